-- The household each record belongs to (itself for a household), so a household's checks and
-- their current status are one indexed lookup; and the server's judgement of a record's GPS fix.
ALTER TABLE records ADD COLUMN household_id BLOB;
ALTER TABLE records ADD COLUMN gps_verdict TEXT;
UPDATE records SET household_id = id WHERE entity = 'household';
UPDATE records SET household_id = unhex(replace(json_extract(fields, '$.household_id'), '-', ''))
    WHERE entity <> 'household' AND json_extract(fields, '$.household_id') IS NOT NULL;
CREATE INDEX records_household ON records (household_id, entity);

-- Published survey form versions. A version is never edited; it is retired.
CREATE TABLE forms (
    key          TEXT NOT NULL,
    version      INTEGER NOT NULL,
    definition   TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    published_by BLOB,
    retired_at   INTEGER,
    PRIMARY KEY (key, version)
);

-- Every judged GPS fix in WGS-84: the device's previous fix (impossible travel) and identical
-- coordinates at other households (copied fixes) are looked up here.
CREATE TABLE gps_fixes (
    record_id    BLOB PRIMARY KEY,
    device_id    BLOB NOT NULL,
    household_id BLOB,
    fix_at       INTEGER NOT NULL,
    lat          REAL NOT NULL,
    lon          REAL NOT NULL
);
CREATE INDEX gps_fixes_device ON gps_fixes (device_id, fix_at);
CREATE INDEX gps_fixes_position ON gps_fixes (lat, lon);

-- A village's area when an administrator sets one (no public village polygons exist for
-- Ningxia); otherwise fixes are judged against the county's shape.
CREATE TABLE village_areas (
    code     TEXT PRIMARY KEY REFERENCES divisions (code),
    lat      REAL NOT NULL,
    lon      REAL NOT NULL,
    radius_m REAL NOT NULL,
    set_at   INTEGER NOT NULL,
    set_by   BLOB
);

-- Village (or township) shapes an administrator imported from GeoJSON, stored in WGS-84 as a
-- GeoJSON MultiPolygon geometry. A village's own shape, then its circle, then its township's
-- shape, then its county's built-in shape: the first that exists is what its fixes are held
-- against. Importing a village's shape removes its circle and setting a circle removes its
-- shape, so the latest an administrator gave is the one in force.
CREATE TABLE division_shapes (
    code       TEXT PRIMARY KEY REFERENCES divisions (code),
    shape      TEXT NOT NULL,
    vertices   INTEGER NOT NULL,
    source_crs TEXT NOT NULL,
    set_at     INTEGER NOT NULL,
    set_by     BLOB
);
