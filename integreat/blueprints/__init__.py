"""Blueprints: an app's dev-phase config (Amplify Gen 2 outputs, a Serverless v3 service) turned
into a proposed manifest entry, plus a report of what could not be mapped and why."""
