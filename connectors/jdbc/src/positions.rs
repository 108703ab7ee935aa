//! The positions jdbc-sink keeps in the database, written in the transaction that writes the
//! rows, so a crash between the write and the runtime's commit repeats nothing.

use connect_sdk::prelude::*;

use crate::db::{Connection, Dialect, SqlValue};

/// One row per connector and queue: the next record to write.
pub(crate) struct PositionTable {
    table: String,
    connector: String,
    /// What this task stored last, to skip a write that would change nothing.
    stored: QueueOffsets,
}

impl PositionTable {
    /// The positions of `connector` in `table`, created when missing.
    pub(crate) async fn open(connection: &mut Connection, table: &str, connector: &str) -> Result<PositionTable> {
        let d = connection.dialect();
        let text = "VARCHAR(200) NOT NULL";
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {} (connector {text}, topic {text}, broker {text}, queue_id INT NOT NULL, next_offset BIGINT NOT NULL, \
             PRIMARY KEY (connector, topic, broker, queue_id))",
            d.quote(table)
        );
        connection.create_if_missing(&sql).await.map_err(|e| Error::with_source(format!("cannot create the offsets table {table}"), e))?;
        Ok(PositionTable { table: table.to_owned(), connector: connector.to_owned(), stored: QueueOffsets::new() })
    }

    /// The stored positions of `queues`.
    pub(crate) async fn read(&mut self, connection: &mut Connection, queues: &[QueueId]) -> Result<QueueOffsets> {
        let d = connection.dialect();
        let sql =
            format!("SELECT topic, broker, queue_id, next_offset FROM {} WHERE connector = {}", d.quote(&self.table), d.placeholder(1));
        let result = connection.query(&sql, &[SqlValue::Text(self.connector.clone())]).await?;
        let mut stored = QueueOffsets::new();
        for row in result.rows {
            if let [SqlValue::Text(topic), SqlValue::Text(broker_name), queue_id, next] = row.as_slice()
                && let (Some(queue_id), Some(next)) = (queue_id.as_i64(), next.as_i64())
            {
                let queue = QueueId { topic: topic.clone(), broker_name: broker_name.clone(), queue_id: queue_id as i32 };
                if queues.contains(&queue) {
                    stored.insert(queue, next);
                }
            }
        }
        self.stored.extend(stored.clone());
        Ok(stored)
    }

    /// Writes `positions` within the caller's transaction; [`PositionTable::written`] once it committed.
    pub(crate) async fn write(&self, connection: &mut Connection, positions: &QueueOffsets) -> Result<()> {
        let d = connection.dialect();
        let columns = "connector, topic, broker, queue_id, next_offset";
        let values = (1..=5).map(|n| d.placeholder(n)).collect::<Vec<_>>().join(", ");
        let update = match d {
            Dialect::Postgres => "ON CONFLICT (connector, topic, broker, queue_id) DO UPDATE SET next_offset = EXCLUDED.next_offset",
            Dialect::MySql => "ON DUPLICATE KEY UPDATE next_offset = VALUES(next_offset)",
        };
        let sql = format!("INSERT INTO {} ({columns}) VALUES ({values}) {update}", d.quote(&self.table));
        for (queue, next) in positions.iter().filter(|(queue, next)| self.stored.get(*queue) != Some(*next)) {
            let params = [
                SqlValue::Text(self.connector.clone()),
                SqlValue::Text(queue.topic.clone()),
                SqlValue::Text(queue.broker_name.clone()),
                SqlValue::Int(i64::from(queue.queue_id)),
                SqlValue::Int(*next),
            ];
            connection.execute(&sql, &params).await?;
        }
        Ok(())
    }

    /// The transaction that wrote `positions` committed.
    pub(crate) fn written(&mut self, positions: &QueueOffsets) {
        self.stored.extend(positions.iter().map(|(q, o)| (q.clone(), *o)));
    }

    /// Whether writing `positions` would change nothing.
    pub(crate) fn holds(&self, positions: &QueueOffsets) -> bool {
        positions.iter().all(|(queue, next)| self.stored.get(queue) == Some(next))
    }
}
