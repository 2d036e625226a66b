"""Learning the API: the tour, and the spec that explains and checks each call. Headless."""
