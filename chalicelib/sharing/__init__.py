"""Cross-app data sharing: datasets an app declares (a view in its schema) and the apps that may read them."""
