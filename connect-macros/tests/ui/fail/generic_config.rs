use connect_sdk::prelude::*;

#[derive(Clone, SourceConnector)]
#[connector(task = Task)]
pub struct Config<T> {
    pub value: T,
}

fn main() {}
