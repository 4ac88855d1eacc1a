//! One row mapping for both SQL backends: the 30-column event row, the alert, delivery and
//! silence rows and their column lists, read through [`RowLike`], which `rusqlite::Row` and
//! `tokio_postgres::Row` both implement. What differs between the backends (dialect, types,
//! partitioning) stays in `sqlite/` and `postgres/`.

use std::collections::BTreeMap;

use kubetrail_model::{
    AlertRecord, AlertStatus, AnalysisEvent, AnalysisOccurrences, AnalysisRef, ArcStr, Category,
    Delivery, Event, EventOccurrences, ObjectRef, Occurrence, Owner, Severity, SharedStrings,
    Silence, Timestamp,
};

use crate::plan::timestamp;
use crate::{Error, Result, StoredEvent};

/// A result row of either backend, read by column index: four primitives the drivers give,
/// the rest derived.
pub(crate) trait RowLike {
    /// Runs `f` on a text column, borrowed (no copy for what is only parsed); `None` for NULL.
    fn with_opt_str<T>(&self, i: usize, f: impl FnOnce(Option<&str>) -> Result<T>) -> Result<T>;
    /// The bytes of a text column that is never NULL, borrowed from the row (a NULL is an
    /// error; SQLite's text is not checked to be UTF-8 here).
    fn text_bytes(&self, i: usize) -> Result<&[u8]>;
    /// An integer column, `None` for NULL.
    fn opt_i64(&self, i: usize) -> Result<Option<i64>>;

    /// A text column that is never NULL (a NULL is an error).
    fn text(&self, i: usize) -> Result<String>;
    /// An integer column that is never NULL (a NULL is an error).
    fn i64(&self, i: usize) -> Result<i64>;
    /// A text column, `None` for NULL.
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        self.with_opt_str(i, |s| Ok(s.map(str::to_owned)))
    }
    /// A time column (microseconds since the epoch) that is never NULL.
    fn time(&self, i: usize, column: &'static str) -> Result<Timestamp> {
        timestamp(self.i64(i)?, column)
    }
    /// A time column, `None` for NULL.
    fn opt_time(&self, i: usize, column: &'static str) -> Result<Option<Timestamp>> {
        self.opt_i64(i)?.map(|t| timestamp(t, column)).transpose()
    }
    /// A JSON column, `None` for NULL.
    fn json<T: serde::de::DeserializeOwned>(
        &self,
        i: usize,
        column: &'static str,
    ) -> Result<Option<T>> {
        self.with_opt_str(i, |s| {
            s.map(|s| serde_json::from_str(s).map_err(|source| Error::Json { column, source }))
                .transpose()
        })
    }
    /// A text column that is never NULL, as `strings` share it.
    fn shared(
        &self,
        i: usize,
        column: &'static str,
        strings: &mut SharedStrings,
    ) -> Result<ArcStr> {
        self.with_opt_str(i, |s| Ok(strings.get(required(s, column)?)))
    }
    /// A count column: an integer that is never NULL nor negative.
    fn count(&self, i: usize) -> Result<u64> {
        let count = self.i64(i)?;
        u64::try_from(count).map_err(|_| Error::Corrupt {
            column: "count",
            value: count.to_string(),
        })
    }
    /// A column holding a name that parses into `T` (a category, a state).
    fn parsed<T: std::str::FromStr>(&self, i: usize, column: &'static str) -> Result<T> {
        self.with_opt_str(i, |s| {
            let s = s.unwrap_or_default();
            s.parse().map_err(|_| Error::Corrupt {
                column,
                value: s.to_owned(),
            })
        })
    }
}

impl RowLike for rusqlite::Row<'_> {
    fn with_opt_str<T>(&self, i: usize, f: impl FnOnce(Option<&str>) -> Result<T>) -> Result<T> {
        let s = self
            .get_ref(i)?
            .as_str_or_null()
            .map_err(rusqlite::Error::from)?;
        f(s)
    }

    fn text_bytes(&self, i: usize) -> Result<&[u8]> {
        Ok(self.get_ref(i)?.as_bytes().map_err(rusqlite::Error::from)?)
    }

    fn opt_i64(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.get(i)?)
    }

    fn text(&self, i: usize) -> Result<String> {
        Ok(self.get(i)?)
    }

    fn i64(&self, i: usize) -> Result<i64> {
        Ok(self.get(i)?)
    }
}

impl RowLike for tokio_postgres::Row {
    fn with_opt_str<T>(&self, i: usize, f: impl FnOnce(Option<&str>) -> Result<T>) -> Result<T> {
        f(self.try_get::<_, Option<&str>>(i)?)
    }

    fn text_bytes(&self, i: usize) -> Result<&[u8]> {
        Ok(self.try_get::<_, &str>(i)?.as_bytes())
    }

    fn opt_i64(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.try_get(i)?)
    }

    fn text(&self, i: usize) -> Result<String> {
        Ok(self.try_get(i)?)
    }

    fn i64(&self, i: usize) -> Result<i64> {
        Ok(self.try_get(i)?)
    }
}

/// The columns of an event row, in the order [`stored_event`] reads them (`e` is `events`).
pub(crate) const EVENT_COLUMNS: &str =
    "e.id, e.cluster, e.uid, e.namespace, e.name, e.reg_api_version, e.reg_kind,
    e.reg_namespace, e.reg_name, e.reg_uid, e.reg_field_path, e.related, e.reason, e.note, e.type,
    e.action, e.reporting_controller, e.reporting_instance, e.first_seen, e.last_seen, e.count,
    e.resource_version, e.category, e.severity, e.correlation_id, e.owner_kind, e.owner_name,
    e.node, e.template, e.labels";

/// [`EVENT_COLUMNS`] with what analysis never reads left empty: the Event object's name, the
/// regarding object's API version and uid, the related object, type, action, resource version
/// and labels ([`EventReader::analysis_occurrences`](crate::EventReader::analysis_occurrences)).
/// Same positions, read by [`stored_event`].
pub(crate) const ANALYSIS_COLUMNS: &str = "e.id, e.cluster, e.uid, e.namespace, '', '', e.reg_kind,
    e.reg_namespace, e.reg_name, '', e.reg_field_path, CAST(NULL AS TEXT), e.reason, e.note, '',
    '', e.reporting_controller, e.reporting_instance, e.first_seen, e.last_seen, e.count,
    '', e.category, e.severity, e.correlation_id, e.owner_kind, e.owner_name,
    e.node, e.template, CAST(NULL AS TEXT)";

/// The columns a read of `fields` reads.
pub(crate) fn columns(fields: crate::Fields) -> &'static str {
    match fields {
        crate::Fields::Whole => EVENT_COLUMNS,
        crate::Fields::Analysis => ANALYSIS_COLUMNS,
    }
}

/// The number of columns in [`EVENT_COLUMNS`]: the index of the first column after them.
pub(crate) const EVENT_COLUMN_COUNT: usize = 30;

/// An event row ([`EVENT_COLUMNS`]) as the event it stores.
pub(crate) fn stored_event(row: &impl RowLike) -> Result<StoredEvent> {
    let owner = match (row.opt_text(25)?, row.opt_text(26)?) {
        (Some(kind), Some(name)) => Some(Owner { kind, name }),
        _ => None,
    };
    let event = Event {
        cluster: row.text(1)?,
        uid: row.text(2)?,
        namespace: row.text(3)?,
        name: row.text(4)?,
        regarding: ObjectRef {
            api_version: row.text(5)?,
            kind: row.text(6)?,
            namespace: row.text(7)?,
            name: row.text(8)?,
            uid: row.text(9)?,
            field_path: row.text(10)?,
        },
        related: row.json(11, "related")?,
        reason: row.text(12)?,
        note: row.text(13)?,
        type_: row.text(14)?,
        action: row.text(15)?,
        reporting_controller: row.text(16)?,
        reporting_instance: row.text(17)?,
        first_seen: row.time(18, "first_seen")?,
        last_seen: row.time(19, "last_seen")?,
        count: row.count(20)?,
        resource_version: row.text(21)?,
        category: row.parsed::<Category>(22, "category")?,
        severity: row.parsed::<Severity>(23, "severity")?,
        correlation_id: row.text(24)?,
        owner,
        node: row.opt_text(27)?,
        template: row.text(28)?,
        labels: row
            .json::<BTreeMap<String, String>>(29, "labels")?
            .unwrap_or_default(),
    };
    Ok(StoredEvent {
        id: row.i64(0)?,
        event,
    })
}

/// What [`ANALYSIS_COLUMNS`] read of an event row holds for analysis ([`AnalysisEvent`]),
/// its strings shared through `strings` with the other rows of the read.
pub(crate) fn analysis_event(
    row: &impl RowLike,
    strings: &mut SharedStrings,
) -> Result<AnalysisEvent> {
    Ok(AnalysisEvent {
        cluster: row.shared(1, "cluster", strings)?,
        uid: row.with_opt_str(2, |s| Ok(ArcStr::from(required(s, "uid")?)))?,
        namespace: row.shared(3, "namespace", strings)?,
        regarding: AnalysisRef {
            kind: row.shared(6, "reg_kind", strings)?,
            namespace: row.shared(7, "reg_namespace", strings)?,
            name: row.shared(8, "reg_name", strings)?,
            field_path: row.shared(10, "reg_field_path", strings)?,
        },
        reason: row.shared(12, "reason", strings)?,
        note: row.shared(13, "note", strings)?,
        reporting_controller: row.shared(16, "reporting_controller", strings)?,
        reporting_instance: row.shared(17, "reporting_instance", strings)?,
        first_seen: row.time(18, "first_seen")?,
        last_seen: row.time(19, "last_seen")?,
        count: row.count(20)?,
        category: row.parsed::<Category>(22, "category")?,
        severity: row.parsed::<Severity>(23, "severity")?,
        correlation_id: row.shared(24, "correlation_id", strings)?,
        node: row.with_opt_str(27, |s| Ok(s.map(|s| strings.get(s))))?,
        template: row.shared(28, "template", strings)?,
    })
}

/// What a read of events with their occurrences hands over for each event row
/// ([`columns`](Shape::columns)): the stored Event ([`Stored`]) or what analysis reads of it
/// ([`Shared`]). Both backends' reads are written once over it.
pub(crate) trait Shape {
    /// One event with its occurrences.
    type Item;
    /// The columns of the rows it reads, as [`EVENT_COLUMNS`] orders them.
    fn columns(&self) -> &'static str;
    /// The event of `row` with its `occurrences`.
    fn item(&mut self, row: &impl RowLike, occurrences: Vec<Occurrence>) -> Result<Self::Item>;
    /// The occurrences of `item`, to add to.
    fn occurrences(item: &mut Self::Item) -> &mut Vec<Occurrence>;
}

/// Stored Events, with the fields asked for.
pub(crate) struct Stored(pub(crate) crate::Fields);

impl Shape for Stored {
    type Item = EventOccurrences;

    fn columns(&self) -> &'static str {
        columns(self.0)
    }

    fn item(&mut self, row: &impl RowLike, occurrences: Vec<Occurrence>) -> Result<Self::Item> {
        Ok(EventOccurrences {
            event: stored_event(row)?.event,
            occurrences,
        })
    }

    fn occurrences(item: &mut Self::Item) -> &mut Vec<Occurrence> {
        &mut item.occurrences
    }
}

/// What analysis reads of the Events, each string held once per read.
#[derive(Default)]
pub(crate) struct Shared(SharedStrings);

impl Shape for Shared {
    type Item = AnalysisOccurrences;

    fn columns(&self) -> &'static str {
        ANALYSIS_COLUMNS
    }

    fn item(&mut self, row: &impl RowLike, occurrences: Vec<Occurrence>) -> Result<Self::Item> {
        Ok(AnalysisOccurrences {
            event: analysis_event(row, &mut self.0)?,
            occurrences,
        })
    }

    fn occurrences(item: &mut Self::Item) -> &mut Vec<Occurrence> {
        &mut item.occurrences
    }
}

/// The columns of a delivery row, in the order [`delivery`] reads them (`d` is
/// `alert_deliveries`).
pub(crate) const DELIVERY_COLUMNS: &str = "d.id, d.alert_id, d.notifier, d.state, d.attempts,
    d.created_at, d.next_attempt_at, d.updated_at, d.delivered_at, d.last_error, d.payload";

/// A delivery row ([`DELIVERY_COLUMNS`]).
pub(crate) fn delivery(row: &impl RowLike) -> Result<Delivery> {
    Ok(Delivery {
        id: row.i64(0)?,
        alert_id: row.i64(1)?,
        notifier: row.text(2)?,
        state: row.parsed(3, "state")?,
        attempts: u32::try_from(row.i64(4)?).unwrap_or(u32::MAX),
        created_at: row.time(5, "created_at")?,
        next_attempt_at: row.time(6, "next_attempt_at")?,
        updated_at: row.time(7, "updated_at")?,
        delivered_at: row.opt_time(8, "delivered_at")?,
        last_error: row.opt_text(9)?,
        payload: required(row.json(10, "payload")?, "payload")?,
    })
}

/// The columns of an alert row, in the order [`alert`] reads them (`a` is `alerts`).
pub(crate) const ALERT_COLUMNS: &str = "a.id, a.rule, a.group_key, a.status, a.severity, a.labels,
    a.annotations, a.starts_at, a.ends_at, a.first_seen, a.last_seen, a.event_count,
    a.silenced_by, a.events";

/// An alert row ([`ALERT_COLUMNS`]) with its id.
pub(crate) fn alert(row: &impl RowLike) -> Result<(i64, AlertRecord)> {
    let record = AlertRecord {
        rule: row.text(1)?,
        group_key: row.text(2)?,
        status: row.parsed::<AlertStatus>(3, "status")?,
        severity: row.parsed::<Severity>(4, "severity")?,
        labels: required(row.json(5, "labels")?, "labels")?,
        annotations: required(row.json(6, "annotations")?, "annotations")?,
        starts_at: row.time(7, "starts_at")?,
        ends_at: row.opt_time(8, "ends_at")?,
        first_seen: row.time(9, "first_seen")?,
        last_seen: row.time(10, "last_seen")?,
        event_count: u64::try_from(row.i64(11)?).unwrap_or(0),
        silenced_by: row.opt_i64(12)?,
        events: required(row.json(13, "events")?, "events")?,
    };
    Ok((row.i64(0)?, record))
}

/// The statement that reads silences, before its `WHERE` (see [`silence`]).
pub(crate) const SELECT_SILENCES: &str =
    "SELECT id, matchers, starts_at, ends_at, created_by, comment FROM silences";

/// A silence row ([`SELECT_SILENCES`]).
pub(crate) fn silence(row: &impl RowLike) -> Result<Silence> {
    Ok(Silence {
        id: row.i64(0)?,
        matchers: required(row.json(1, "matchers")?, "matchers")?,
        starts_at: row.time(2, "starts_at")?,
        ends_at: row.time(3, "ends_at")?,
        created_by: row.text(4)?,
        comment: row.text(5)?,
    })
}

/// A column that is never NULL.
fn required<T>(value: Option<T>, column: &'static str) -> Result<T> {
    value.ok_or(Error::Corrupt {
        column,
        value: "NULL".to_owned(),
    })
}
