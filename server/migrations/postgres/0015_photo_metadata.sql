-- What became of a processed photo's EXIF: 'read', 'none', or 'unreadable' (damaged, so
-- dropped whole: no GPS, no time, orientation 1). NULL for photos processed before.
ALTER TABLE blobs ADD COLUMN metadata TEXT;
