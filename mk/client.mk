# rules for the client area
