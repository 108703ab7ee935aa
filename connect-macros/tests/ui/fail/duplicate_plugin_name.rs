use connect_sdk::prelude::*;

mod first {
    use super::*;

    /// Produces nothing.
    #[derive(Clone, Serialize, Deserialize, JsonSchema, SourceConnector)]
    #[connector(name = "twin-source", task = Idle)]
    pub struct Twin {
        /// Topic.
        pub topic: String,
    }

    /// Idles.
    pub struct Idle;

    impl SourceTask for Idle {
        type Config = Twin;
        async fn open(_: Twin, _: SourceContext) -> Result<Self> {
            Ok(Idle)
        }
        async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
            Ok(Vec::new())
        }
    }
}

mod second {
    use super::*;

    /// Keeps every record; its alias is the source's name.
    #[derive(Deserialize, JsonSchema, connect_sdk::Transform)]
    #[transform(name = "keep-all", aliases = ["twin-source"])]
    pub struct KeepAll {}

    impl connect_sdk::transform::Transform for KeepAll {
        fn apply(&self, record: Record) -> Result<Option<Record>> {
            Ok(Some(record))
        }
    }
}

fn main() {}
