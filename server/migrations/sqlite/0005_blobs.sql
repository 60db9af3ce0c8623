-- Photos and other uploads, addressed by the SHA-256 of the bytes the phone sent. The bytes
-- live in the blob store (local disk or S3); this is what the server knows about them.
CREATE TABLE blobs (
    sha256        TEXT PRIMARY KEY,
    -- processing: received, waiting for or in the worker; ready: stripped original and
    -- thumbnail stored; rejected: not a photo the server takes (reason says why).
    state         TEXT NOT NULL,
    size          INTEGER NOT NULL,
    uploaded_by   BLOB NOT NULL,
    uploaded_at   INTEGER NOT NULL,
    -- Last upload of these bytes or last record naming them: collection counts its grace
    -- period from here.
    touched_at    INTEGER NOT NULL,
    -- A worker's lease: a blob claimed longer ago than the lease is taken up again.
    claimed_at    INTEGER,
    attempts      INTEGER NOT NULL DEFAULT 0,
    processed_at  INTEGER,
    format        TEXT,
    width         INTEGER,
    height        INTEGER,
    orientation   INTEGER,
    stored_size   INTEGER,
    thumb_size    INTEGER,
    -- From the EXIF, WGS-84; never left in the stored file.
    gps_lat       REAL,
    gps_lon       REAL,
    gps_alt_m     REAL,
    taken_at      TEXT,
    reason        TEXT,
    detail        TEXT
);
CREATE INDEX blobs_waiting ON blobs (state, uploaded_at);
CREATE INDEX blobs_touched ON blobs (touched_at);

-- Every device that uploaded a blob may read it back, whether or not a record names it yet.
CREATE TABLE blob_owners (
    sha256    TEXT NOT NULL,
    device_id BLOB NOT NULL,
    PRIMARY KEY (sha256, device_id)
);

-- Records that name a blob (a check's photos): who may see the record may see the photo, and
-- a named blob is never collected.
CREATE TABLE blob_refs (
    sha256    TEXT NOT NULL,
    record_id BLOB NOT NULL,
    PRIMARY KEY (sha256, record_id)
);

-- Uploads in chunks, in progress: the parts sit in the blob store under staging/.
CREATE TABLE blob_uploads (
    sha256     TEXT NOT NULL,
    device_id  BLOB NOT NULL,
    total      INTEGER NOT NULL,
    received   INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (sha256, device_id)
);

-- Bytes received per device per day (UTC+8), against the daily upload limit.
CREATE TABLE upload_quota (
    device_id BLOB NOT NULL,
    day       TEXT NOT NULL,
    bytes     INTEGER NOT NULL,
    PRIMARY KEY (device_id, day)
);
