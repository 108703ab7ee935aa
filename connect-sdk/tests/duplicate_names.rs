//! Two connectors registered under one name compile, but the harness refuses to run either,
//! as the worker refuses to start: a duplicate is caught by the connector's own tests.

use connect_sdk::prelude::*;
use connect_sdk::testing::{SourceHarness, block_on};

mod first {
    use super::*;

    /// One of two connectors named alike.
    #[derive(Clone, Serialize, Deserialize, JsonSchema, SourceConnector)]
    #[connector(name = "twin-source", task = Idle)]
    pub struct Twin {
        /// Topic.
        pub topic: String,
    }

    /// Produces nothing.
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

    /// The other one.
    #[derive(Clone, Serialize, Deserialize, JsonSchema, SourceConnector)]
    #[connector(name = "twin-source", task = Idle)]
    pub struct Twin {
        /// Topic.
        pub topic: String,
    }

    /// Produces nothing.
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

#[test]
fn the_harness_refuses_connectors_that_share_a_name() {
    let error = block_on(SourceHarness::<first::Twin>::new(serde_json::json!({"topic": "t"}))).err().expect("a duplicate name fails");
    let message = error.to_string();
    assert!(message.contains("\"twin-source\" is registered by"), "{message}");
    assert!(message.contains("duplicate_names::first::Twin and duplicate_names::second::Twin"), "the two types: {message}");
}
