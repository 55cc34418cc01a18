"""REST blueprints, one module per concern; route policy arrives with the identity issue."""
