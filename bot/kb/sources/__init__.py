"""Where knowledge comes from: each kind of source (a website, a help desk, a wiki) as a
connector that lists its pages, synced into the knowledge base incrementally."""
