use connect_sdk::host::plugin::PluginKind;
use connect_sdk::prelude::*;
use connect_sdk::host::registry::Registry;

/// Reads nothing, politely.
#[derive(Clone, Serialize, Deserialize, JsonSchema, SourceConnector)]
#[connector(task = QuietTask)]
pub struct QuietSource {
    /// Where nothing goes.
    pub topic: String,
}

pub struct QuietTask;

impl SourceTask for QuietTask {
    type Config = QuietSource;
    async fn open(_: QuietSource, _: SourceContext) -> Result<Self> {
        Ok(QuietTask)
    }
    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        Ok(Vec::new())
    }
}

fn main() {
    let plugin = Registry::global().connector("quiet-source").expect("registered under its kebab-case name");
    assert_eq!(plugin.kind, PluginKind::Source);
    assert_eq!(plugin.description, "Reads nothing, politely.");
    assert_eq!(plugin.version, env!("CARGO_PKG_VERSION"));
}
