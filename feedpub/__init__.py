"""feedpub: publish RSS 2.0 and Atom 1.0 feeds from a folder of article files."""
