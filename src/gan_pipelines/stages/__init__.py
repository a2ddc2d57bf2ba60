"""Stage code shared by every family's nodes (Kedro-free, family-free): preprocessing of image
folders by typed image kinds, and the setup around training (loaders, launch, checkpoint bundles)."""
