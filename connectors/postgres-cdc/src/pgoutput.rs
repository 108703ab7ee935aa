//! The messages of PostgreSQL's built-in `pgoutput` plugin (protocol version 1) that carry
//! row changes: relations (a table's columns, sent before its first change in a session and
//! after its definition changed), inserts, updates, deletes and truncates. `Begin`, `Commit`
//! and logical messages are decoded by the replication client; type and origin messages are
//! not needed.

/// One column of a relation as the publisher describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelationColumn {
    /// Its name.
    pub name: String,
    /// Part of the replica identity (the primary key, unless the table says otherwise).
    pub identity: bool,
    /// Type OID.
    pub type_oid: u32,
    /// Type modifier (`atttypmod`).
    pub modifier: i32,
}

/// A table's description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relation {
    /// The table's OID.
    pub id: u32,
    /// Its schema.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// `REPLICA IDENTITY`: `d` default (primary key), `n` nothing, `f` full, `i` index.
    pub replica_identity: u8,
    /// The published columns, in order.
    pub columns: Vec<RelationColumn>,
}

/// One column's value in a tuple.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// A TOASTed value the update did not change (not sent).
    Unchanged,
    /// The value's text form.
    Text(String),
}

/// A row change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A table's (new) description.
    Relation(Relation),
    /// A new row.
    Insert { relation: u32, new: Vec<Cell> },
    /// A changed row: the old key or (with `REPLICA IDENTITY FULL`) the old row, then the new row.
    Update { relation: u32, old: Option<Vec<Cell>>, new: Vec<Cell> },
    /// A deleted row: its key, or the whole old row.
    Delete { relation: u32, old: Vec<Cell> },
    /// Tables emptied by `TRUNCATE`.
    Truncate { relations: Vec<u32> },
    /// Anything else (types, origins): nothing to emit.
    Other,
}

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The message is shorter than its fields say.
    #[error("a pgoutput message ended {0} bytes early")]
    Truncated(usize),
    /// A string field without its terminating zero.
    #[error("a pgoutput string without its terminating zero")]
    Unterminated,
    /// A binary value: the stream is opened in text mode, so the server never sends one.
    #[error("a binary tuple value: the stream is opened in text mode")]
    BinaryValue,
    /// A tuple value of a kind pgoutput does not define.
    #[error("unknown tuple value kind {0:?}")]
    UnknownValueKind(char),
    /// A tuple of a kind the message cannot hold (`what`: "an update", "a delete").
    #[error("{what} with tuple kind {kind:?}")]
    UnexpectedTuple {
        /// The message.
        what: &'static str,
        /// The tuple's kind.
        kind: char,
    },
}

/// Reads big-endian fields off a message.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < n {
            return Err(DecodeError::Truncated(n - self.bytes.len()));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn cstring(&mut self) -> Result<String, DecodeError> {
        let end = self.bytes.iter().position(|&b| b == 0).ok_or(DecodeError::Unterminated)?;
        let text = String::from_utf8_lossy(&self.bytes[..end]).into_owned();
        self.bytes = &self.bytes[end + 1..];
        Ok(text)
    }

    fn tuple(&mut self) -> Result<Vec<Cell>, DecodeError> {
        let count = self.u16()?;
        (0..count)
            .map(|_| match self.u8()? {
                b'n' => Ok(Cell::Null),
                b'u' => Ok(Cell::Unchanged),
                b't' => {
                    let len = self.u32()? as usize;
                    Ok(Cell::Text(String::from_utf8_lossy(self.take(len)?).into_owned()))
                }
                b'b' => Err(DecodeError::BinaryValue),
                other => Err(DecodeError::UnknownValueKind(other as char)),
            })
            .collect()
    }
}

/// Decodes one `pgoutput` message.
pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    let mut r = Reader { bytes };
    Ok(match r.u8()? {
        b'R' => {
            let id = r.u32()?;
            let namespace = r.cstring()?;
            let name = r.cstring()?;
            let replica_identity = r.u8()?;
            let count = r.u16()?;
            let columns = (0..count)
                .map(|_| {
                    let identity = r.u8()? & 1 == 1;
                    let name = r.cstring()?;
                    let type_oid = r.u32()?;
                    let modifier = r.u32()? as i32;
                    Ok(RelationColumn { name, identity, type_oid, modifier })
                })
                .collect::<Result<_, DecodeError>>()?;
            Message::Relation(Relation { id, namespace, name, replica_identity, columns })
        }
        b'I' => {
            let relation = r.u32()?;
            expect_new(&mut r, "an insert")?;
            Message::Insert { relation, new: r.tuple()? }
        }
        b'U' => {
            let relation = r.u32()?;
            let (old, new) = match r.u8()? {
                b'K' | b'O' => {
                    let old = r.tuple()?;
                    expect_new(&mut r, "an update")?;
                    (Some(old), r.tuple()?)
                }
                b'N' => (None, r.tuple()?),
                other => return Err(DecodeError::UnexpectedTuple { what: "an update", kind: other as char }),
            };
            Message::Update { relation, old, new }
        }
        b'D' => {
            let relation = r.u32()?;
            match r.u8()? {
                b'K' | b'O' => Message::Delete { relation, old: r.tuple()? },
                other => return Err(DecodeError::UnexpectedTuple { what: "a delete", kind: other as char }),
            }
        }
        b'T' => {
            let count = r.u32()?;
            let _options = r.u8()?;
            Message::Truncate { relations: (0..count).map(|_| r.u32()).collect::<Result<_, _>>()? }
        }
        _ => Message::Other,
    })
}

/// The new tuple's tag (`N`): what follows an insert, or an update's old tuple.
fn expect_new(r: &mut Reader<'_>, what: &'static str) -> Result<(), DecodeError> {
    match r.u8()? {
        b'N' => Ok(()),
        other => Err(DecodeError::UnexpectedTuple { what, kind: other as char }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(cells: &[Option<&str>]) -> Vec<u8> {
        let mut out = (cells.len() as u16).to_be_bytes().to_vec();
        for cell in cells {
            match cell {
                None => out.push(b'n'),
                Some(text) => {
                    out.push(b't');
                    out.extend((text.len() as u32).to_be_bytes());
                    out.extend(text.as_bytes());
                }
            }
        }
        out
    }

    #[test]
    fn relations_and_changes_decode() {
        let mut relation = vec![b'R'];
        relation.extend(16_384u32.to_be_bytes());
        relation.extend(b"public\0items\0d");
        relation.extend(2u16.to_be_bytes());
        relation.extend([1]);
        relation.extend(b"id\0");
        relation.extend(23u32.to_be_bytes());
        relation.extend((-1i32).to_be_bytes());
        relation.extend([0]);
        relation.extend(b"name\0");
        relation.extend(25u32.to_be_bytes());
        relation.extend((-1i32).to_be_bytes());
        let Message::Relation(relation) = decode(&relation).unwrap() else { panic!("a relation") };
        assert_eq!((relation.namespace.as_str(), relation.name.as_str(), relation.replica_identity), ("public", "items", b'd'));
        assert_eq!(relation.columns[0], RelationColumn { name: "id".into(), identity: true, type_oid: 23, modifier: -1 });

        let mut update = vec![b'U'];
        update.extend(16_384u32.to_be_bytes());
        update.push(b'O');
        update.extend(tuple(&[Some("1"), None]));
        update.push(b'N');
        update.extend(tuple(&[Some("1"), Some("one")]));
        assert_eq!(
            decode(&update).unwrap(),
            Message::Update {
                relation: 16_384,
                old: Some(vec![Cell::Text("1".into()), Cell::Null]),
                new: vec![Cell::Text("1".into()), Cell::Text("one".into())]
            }
        );

        let mut truncate = vec![b'T'];
        truncate.extend(2u32.to_be_bytes());
        truncate.push(0);
        truncate.extend(7u32.to_be_bytes());
        truncate.extend(9u32.to_be_bytes());
        assert_eq!(decode(&truncate).unwrap(), Message::Truncate { relations: vec![7, 9] });
        assert_eq!(decode(&update[..update.len() - 2]).unwrap_err(), DecodeError::Truncated(2));
        assert_eq!(decode(b"Yxyz").unwrap(), Message::Other);
    }
}
