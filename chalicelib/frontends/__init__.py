"""An app's frontend: the browser origins it is served from (the API's and the bucket's CORS) and
how Amplify Hosting builds it (integreat/infra/hosting.py)."""
