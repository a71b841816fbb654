"""Knowledge-base file formats: one file's bytes to articles with heading-path chunks.

``files.parse_source`` is the entry point; each format has its own module. Nothing here does I/O
or keeps state. Import from the specific module: this package re-exports nothing.
"""
