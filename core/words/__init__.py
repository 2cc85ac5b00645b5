"""Words about photos: full-text search, the user's own words (tags, captions), sidecar files."""
