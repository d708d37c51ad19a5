//! Small file-system helpers shared by the writer, the WAL and retention.

use std::fs::File;
use std::path::Path;

use crate::StoreError;

/// `fsync` a directory, so that a rename or removal in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io("fsync directory", dir, e))
}
