//! `ExportTenantData`: the owner's bulk export of one data mode of the
//! tenant, as JSON lines streamed in pages.
//!
//! The order of things matters. The caller is authorised (an owner session,
//! or a key with the `owner` scope), the export is counted and recorded as
//! `data.exported`, and only then does the first line leave: an export the
//! audit log cannot hold is refused (UNAVAILABLE) with nothing sent. The
//! lines follow, one per record, `{"type": ...}`: every customer (opened),
//! appointment, job note (opened), conversation (metadata and opened
//! summary) and message (opened), each kind in id order, one page of
//! [`EXPORT_PAGE`] rows per chunk. The last line is
//! `{"type":"end","counts":{...}}`, the lines actually sent of each kind: a
//! download without it was cut short. A failure after the start ends the
//! stream with an error, so the end line never comes.

use std::pin::Pin;

use chrono::{DateTime, SecondsFormat, Utc};
use rampart_kit::error::ErrorCode;
use rampart_kit::principal::{Principal, Role, Scope};
use rampart_proto::crm::v1 as proto;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::CrmApi;
use super::owner::authorise;
use crate::Error;
use crate::store::{DataScope, EXPORT_PAGE, ExportCounts, ExportReader, record_export};

/// The stream of an export's chunks.
pub type ExportStream =
    Pin<Box<dyn Stream<Item = Result<proto::ExportTenantDataChunk, Status>> + Send>>;

/// One line of the export. Field names are the REST API's.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Line<'a> {
    Customer {
        id: &'a str,
        name: &'a str,
        phone: Option<&'a str>,
        email: Option<&'a str>,
        address: Option<&'a str>,
        created_at: String,
    },
    Appointment {
        id: &'a str,
        customer_id: &'a str,
        starts_at: String,
        ends_at: String,
        service_type: &'a str,
        assignee: Option<&'a str>,
        status: &'a str,
        created_at: String,
        updated_at: String,
    },
    JobNote {
        id: &'a str,
        customer_id: &'a str,
        appointment_id: Option<&'a str>,
        text: &'a str,
        equipment: Option<&'a str>,
        author: &'a str,
        created_at: String,
    },
    Conversation {
        id: &'a str,
        channel: &'a str,
        status: &'a str,
        customer_id: Option<&'a str>,
        assignee: Option<&'a str>,
        handoff_id: Option<&'a str>,
        summary: &'a str,
        transcript_consent: bool,
        started_at: String,
        updated_at: String,
    },
    Message {
        id: &'a str,
        conversation_id: &'a str,
        author: &'a str,
        author_id: Option<&'a str>,
        text: &'a str,
        delivery: &'a str,
        created_at: String,
    },
    End {
        counts: ExportCounts,
    },
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Appends `line` and its newline to `chunk`.
fn push(chunk: &mut Vec<u8>, line: &Line<'_>) -> Result<(), Error> {
    serde_json::to_writer(&mut *chunk, line).map_err(|error| Error::Internal(error.into()))?;
    chunk.push(b'\n');
    Ok(())
}

impl CrmApi {
    pub(super) async fn export(
        &self,
        request: Request<proto::ExportTenantDataRequest>,
    ) -> Result<Response<ExportStream>, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        authorise(&principal, Role::Owner, Scope::Owner)?;
        let reader = ExportReader::for_tenant(&self.db, &self.vault, scope.clone());
        let at_start = reader.count().await?;
        if let Err(error) =
            record_export(&self.db, &self.outbox, &principal, &scope, &at_start).await
        {
            tracing::error!(
                error = %error,
                request_id = %principal.request_id,
                "export not audited; refused"
            );
            return Err(ErrorCode::Unavailable.status(
                "the export could not be recorded in the audit log; nothing was sent, retry later",
            ));
        }
        tracing::info!(
            tenant_id = %scope.tenant_id,
            mode = scope.mode.as_str(),
            request_id = %principal.request_id,
            "tenant data export started"
        );

        let api = self.clone();
        let request_id = principal.request_id.clone();
        // Two chunks in flight at most: a slow reader holds the producer
        // back instead of letting it buffer the tenant.
        let (sender, receiver) = mpsc::channel(2);
        tokio::spawn(async move {
            let reader = ExportReader::for_tenant(&api.db, &api.vault, scope);
            match send_all(&reader, &sender).await {
                Ok(Some(counts)) => tracing::info!(
                    customers = counts.customers,
                    messages = counts.messages,
                    %request_id,
                    "tenant data export finished"
                ),
                // The reader went away.
                Ok(None) => tracing::info!(%request_id, "tenant data export abandoned"),
                Err(error) => {
                    tracing::error!(error = %error, %request_id, "tenant data export failed");
                    let _ = sender.send(Err(Status::from(error))).await;
                }
            }
        });
        let stream = tokio_stream::wrappers::ReceiverStream::new(receiver);
        Ok(Response::new(Box::pin(stream)))
    }
}

type Sender = mpsc::Sender<Result<proto::ExportTenantDataChunk, Status>>;

/// Sends one chunk; false when the reader went away.
async fn send(sender: &Sender, data: Vec<u8>) -> bool {
    sender
        .send(Ok(proto::ExportTenantDataChunk { data }))
        .await
        .is_ok()
}

/// Reads every kind page by page and sends each page as a chunk, then
/// the end line; the counts sent, or `None` when the reader went away.
async fn send_all(
    reader: &ExportReader<'_>,
    sender: &Sender,
) -> Result<Option<ExportCounts>, Error> {
    let mut counts = ExportCounts::default();

    // Each kind the same way: a page after the cursor, its lines, the
    // next cursor; a short page is the last.
    macro_rules! each_page {
        ($read:ident, $count:ident, |$row:ident| $line:expr) => {{
            let mut after: Option<String> = None;
            loop {
                let rows = reader.$read(after.as_deref()).await?;
                let full = rows.len() as u64 == EXPORT_PAGE;
                let mut chunk = Vec::new();
                for $row in &rows {
                    push(&mut chunk, &$line)?;
                }
                counts.$count += rows.len() as u64;
                after = rows.last().map(|row| row.id.clone());
                if !chunk.is_empty() && !send(sender, chunk).await {
                    return Ok(None);
                }
                if !full {
                    break;
                }
            }
        }};
    }

    each_page!(customers, customers, |row| Line::Customer {
        id: &row.id,
        name: &row.name,
        phone: row.phone.as_deref(),
        email: row.email.as_deref(),
        address: row.address.as_deref(),
        created_at: timestamp(row.created_at),
    });
    each_page!(appointments, appointments, |row| Line::Appointment {
        id: &row.id,
        customer_id: &row.customer_id,
        starts_at: timestamp(row.starts_at),
        ends_at: timestamp(row.ends_at),
        service_type: &row.service_type,
        assignee: row.assignee.as_deref(),
        status: &row.status,
        created_at: timestamp(row.created_at),
        updated_at: timestamp(row.updated_at),
    });
    each_page!(job_notes, job_notes, |row| Line::JobNote {
        id: &row.id,
        customer_id: &row.customer_id,
        appointment_id: row.appointment_id.as_deref(),
        text: &row.text,
        equipment: row.equipment.as_deref(),
        author: &row.author,
        created_at: timestamp(row.created_at),
    });
    each_page!(conversations, conversations, |row| Line::Conversation {
        id: &row.id,
        channel: &row.channel,
        status: &row.status,
        customer_id: row.customer_id.as_deref(),
        assignee: row.assignee.as_deref(),
        handoff_id: row.handoff_id.as_deref(),
        summary: &row.summary,
        transcript_consent: row.transcript_consent,
        started_at: timestamp(row.started_at),
        updated_at: timestamp(row.updated_at),
    });
    each_page!(messages, messages, |row| Line::Message {
        id: &row.id,
        conversation_id: &row.conversation_id,
        author: &row.author,
        author_id: row.author_id.as_deref(),
        text: &row.text,
        delivery: &row.delivery,
        created_at: timestamp(row.created_at),
    });

    let mut end = Vec::new();
    push(&mut end, &Line::End { counts })?;
    if !send(sender, end).await {
        return Ok(None);
    }
    Ok(Some(counts))
}
