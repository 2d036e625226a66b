"""The app's widgets: behaviour lives here, screens only compose them."""
