port = = 1
