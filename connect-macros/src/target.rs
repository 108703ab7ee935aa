//! Which derive is running, and what its attribute accepts.

/// The five derives.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum DeriveKind {
    Source,
    Sink,
    Transform,
    Predicate,
    Converter,
}

impl DeriveKind {
    /// The trait's name, for messages.
    pub fn trait_name(self) -> &'static str {
        match self {
            DeriveKind::Source => "SourceConnector",
            DeriveKind::Sink => "SinkConnector",
            DeriveKind::Transform => "Transform",
            DeriveKind::Predicate => "Predicate",
            DeriveKind::Converter => "Converter",
        }
    }

    /// The attribute it reads.
    pub fn attribute(self) -> &'static str {
        match self {
            DeriveKind::Source | DeriveKind::Sink => "connector",
            DeriveKind::Transform => "transform",
            DeriveKind::Predicate => "predicate",
            DeriveKind::Converter => "converter",
        }
    }

    /// The keys its attribute accepts.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            DeriveKind::Source | DeriveKind::Sink => &["name", "task", "split", "plan", "validate", "version", "aliases"],
            DeriveKind::Transform => &["name", "version", "aliases", "key_value"],
            DeriveKind::Predicate | DeriveKind::Converter => &["name", "version", "aliases"],
        }
    }

    /// True for source and sink connectors.
    pub fn is_connector(self) -> bool {
        matches!(self, DeriveKind::Source | DeriveKind::Sink)
    }
}
