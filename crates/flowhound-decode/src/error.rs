//! Typed decode problems: datagram-level errors abort the datagram, set-level
//! problems are counted and skipped so the other sets still decode.

/// A datagram that cannot be decoded at all. Every variant carries the byte
/// offset of the problem.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The datagram ends before a header or record it announces.
    #[error("datagram truncated at byte {offset}: needs {needed} bytes, has {available}")]
    Truncated {
        /// Where the missing part starts.
        offset: usize,
        /// Bytes needed from the start of the datagram.
        needed: usize,
        /// Bytes in the datagram.
        available: usize,
    },
    /// Not NetFlow v5, v9 or IPFIX.
    #[error("unsupported export version {version} at byte 0")]
    BadVersion {
        /// The version field.
        version: u16,
    },
    /// The IPFIX message length is shorter than its header or longer than the
    /// datagram.
    #[error(
        "message length {declared} at byte {offset} does not fit the {available}-byte datagram"
    )]
    BadLength {
        /// Offset of the length field.
        offset: usize,
        /// The declared length.
        declared: usize,
        /// Bytes in the datagram.
        available: usize,
    },
    /// A NetFlow v5 header counts more records than the datagram holds.
    #[error(
        "record count {count} at byte {offset} needs {needed} bytes, datagram has {available}"
    )]
    BadCount {
        /// Offset of the count field.
        offset: usize,
        /// The declared record count.
        count: u16,
        /// Bytes those records need, with the header.
        needed: usize,
        /// Bytes in the datagram.
        available: usize,
    },
}

impl DecodeError {
    /// A stable snake_case label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::BadVersion { .. } => "bad_version",
            DecodeError::BadLength { .. } => "bad_length",
            DecodeError::BadCount { .. } => "bad_count",
        }
    }

    /// Byte offset of the problem in the datagram.
    pub fn offset(&self) -> usize {
        match self {
            DecodeError::Truncated { offset, .. }
            | DecodeError::BadLength { offset, .. }
            | DecodeError::BadCount { offset, .. } => *offset,
            DecodeError::BadVersion { .. } => 0,
        }
    }

    #[cold]
    pub(crate) fn truncated(offset: usize, needed: usize, available: usize) -> Self {
        DecodeError::Truncated {
            offset,
            needed,
            available,
        }
    }

    #[cold]
    pub(crate) fn bad_version(version: u16) -> Self {
        DecodeError::BadVersion { version }
    }

    #[cold]
    pub(crate) fn bad_length(offset: usize, declared: usize, available: usize) -> Self {
        DecodeError::BadLength {
            offset,
            declared,
            available,
        }
    }

    #[cold]
    pub(crate) fn bad_count(offset: usize, count: u16, needed: usize, available: usize) -> Self {
        DecodeError::BadCount {
            offset,
            count,
            needed,
            available,
        }
    }
}

/// Counts of non-fatal problems inside one datagram, by kind. A set with a
/// problem is skipped (or, for a bad set length, the rest of the datagram).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetErrors {
    /// A set length below 4 or past the end of the datagram; the rest of the
    /// datagram is skipped.
    pub bad_set_length: u32,
    /// A template or options template that cannot be used: too many fields, a
    /// field running past its set, reserved id, zero-length record, ...
    pub bad_template: u32,
    /// A new template refused because the domain holds `Limits::max_templates`.
    pub template_limit: u32,
    /// A set id that is reserved (v9: 2..=255, IPFIX: 0, 1, 4..=255).
    pub reserved_set_id: u32,
    /// A data record (IPFIX variable-length) running past its set.
    pub bad_record: u32,
    /// A data set whose template is unknown and that could not be held.
    pub unknown_template: u32,
}

impl SetErrors {
    /// Every kind with its stable snake_case label, for metrics.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u32)> {
        [
            ("bad_set_length", self.bad_set_length),
            ("bad_template", self.bad_template),
            ("template_limit", self.template_limit),
            ("reserved_set_id", self.reserved_set_id),
            ("bad_record", self.bad_record),
            ("unknown_template", self.unknown_template),
        ]
        .into_iter()
    }

    /// Sum over all kinds.
    pub fn total(&self) -> u32 {
        self.iter().map(|(_, n)| n).sum()
    }
}
