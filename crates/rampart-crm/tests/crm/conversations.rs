//! Conversations: starting one (idempotently, linked to a customer or from
//! the widget with its visitor token), listing and reading them, their
//! summary, and the status steps a handoff takes them through.

use rampart_kit::ids::{CustomerId, HandoffId, UserId};
use rampart_kit::on_both_databases;
use rampart_kit::principal::Role;
use rampart_kit::testing::{TestDatabase, expect_code, request_as};
use rampart_proto::crm::v1 as proto;
use tonic::Code;

use crate::helpers::{TestApp, new_tenant, post, start_request, user, widget_key};

on_both_databases!(
    creates_and_posts_are_idempotent,
    a_conversation_links_only_this_tenants_customer,
    widget_visitors_need_their_token,
    conversations_are_listed_newest_first_with_filters,
    the_summary_is_set_by_a_key_or_an_agent,
    status_steps_follow_the_handoff,
);

fn get(id: &str) -> proto::GetConversationRequest {
    proto::GetConversationRequest {
        conversation_id: id.to_owned(),
    }
}

fn step(id: &str, status: &str) -> proto::SetConversationStatusRequest {
    proto::SetConversationStatusRequest {
        conversation_id: id.to_owned(),
        status: status.to_owned(),
        ..Default::default()
    }
}

async fn creates_and_posts_are_idempotent(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (_, key) = new_tenant();
    let request = proto::StartConversationRequest {
        idempotency_key: "start-1".into(),
        ..start_request("web", "hello")
    };
    let first = crm
        .start_conversation(request_as(&key, request.clone()))
        .await
        .unwrap()
        .into_inner();
    let again = crm
        .start_conversation(request_as(&key, request.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, first);
    assert_eq!(app.count_rows("crm_conversation").await, 1);
    assert_eq!(app.count_rows("crm_message").await, 1);
    assert_eq!(app.escalation.gate_calls().len(), 1);
    assert_eq!(app.audit_actions("conversation.started").await.len(), 1);

    // The same key for another request is refused.
    let other = proto::StartConversationRequest {
        first_message: "something else".into(),
        ..request
    };
    expect_code(
        crm.start_conversation(request_as(&key, other)).await,
        Code::AlreadyExists,
    );
    // Keys are per tenant: another tenant may use the same one.
    let (_, other_key) = new_tenant();
    let theirs = crm
        .start_conversation(request_as(
            &other_key,
            proto::StartConversationRequest {
                idempotency_key: "start-1".into(),
                ..start_request("web", "hello")
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(theirs.id, first.id);

    let message = proto::PostMessageRequest {
        idempotency_key: "post-1".into(),
        ..post(&first.id, "second message")
    };
    let posted = crm
        .post_customer_message(request_as(&key, message.clone()))
        .await
        .unwrap()
        .into_inner();
    let reposted = crm
        .post_customer_message(request_as(&key, message.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reposted, posted);
    assert_eq!(app.count_rows("crm_message").await, 3);
    assert_eq!(app.escalation.gate_calls().len(), 3);
    expect_code(
        crm.post_customer_message(request_as(
            &key,
            proto::PostMessageRequest {
                text: "changed".into(),
                ..message.clone()
            },
        ))
        .await,
        Code::AlreadyExists,
    );
    // An AI reply may not reuse a customer message's key either.
    expect_code(
        crm.post_ai_reply(request_as(&key, message)).await,
        Code::AlreadyExists,
    );

    let reply = proto::PostMessageRequest {
        idempotency_key: "reply-1".into(),
        ..post(&first.id, "Happy to help")
    };
    let sent = crm
        .post_ai_reply(request_as(&key, reply.clone()))
        .await
        .unwrap()
        .into_inner();
    let resent = crm
        .post_ai_reply(request_as(&key, reply))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resent, sent);
    assert_eq!(app.escalation.review_calls().len(), 1);
    assert_eq!(app.count_rows("crm_message").await, 4);

    // A start without a first message, replayed after a reply, answers no
    // message.
    let bare = proto::StartConversationRequest {
        idempotency_key: "start-2".into(),
        ..start_request("web", "")
    };
    let started = crm
        .start_conversation(request_as(&key, bare.clone()))
        .await
        .unwrap()
        .into_inner();
    crm.post_ai_reply(request_as(&key, post(&started.id, "Hello!")))
        .await
        .unwrap();
    let replayed = crm
        .start_conversation(request_as(&key, bare))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replayed.id, started.id);
    assert!(replayed.messages.is_empty());

    // Malformed keys are refused.
    expect_code(
        crm.start_conversation(request_as(
            &key,
            proto::StartConversationRequest {
                idempotency_key: "k".repeat(201),
                ..start_request("web", "")
            },
        ))
        .await,
        Code::InvalidArgument,
    );
}

async fn a_conversation_links_only_this_tenants_customer(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (_, key) = new_tenant();
    let (_, other_key) = new_tenant();
    let theirs = crm
        .create_customer(request_as(
            &other_key,
            proto::CreateCustomerRequest {
                name: "Ben".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    for customer_id in [
        theirs.id.clone(),
        CustomerId::generate().into_string(),
        "cus_nope".into(),
    ] {
        expect_code(
            crm.start_conversation(request_as(
                &key,
                proto::StartConversationRequest {
                    customer_id,
                    ..start_request("phone", "hello")
                },
            ))
            .await,
            Code::NotFound,
        );
    }
    assert_eq!(app.count_rows("crm_conversation").await, 0);
    assert_eq!(app.count_rows("crm_message").await, 0);

    let ours = crm
        .create_customer(request_as(
            &key,
            proto::CreateCustomerRequest {
                name: "Ada".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let started = crm
        .start_conversation(request_as(
            &key,
            proto::StartConversationRequest {
                customer_id: ours.id.clone(),
                transcript_consent: true,
                ..start_request("phone", "")
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(started.customer_id, ours.id);
    assert!(started.transcript_consent);
    assert_eq!(started.visitor_token, "");

    // A public widget key cannot attach a conversation to a customer.
    let (tenant, _) = new_tenant();
    expect_code(
        crm.start_conversation(request_as(
            &widget_key(&tenant),
            proto::StartConversationRequest {
                customer_id: ours.id,
                ..start_request("widget", "hi")
            },
        ))
        .await,
        Code::PermissionDenied,
    );
}

async fn widget_visitors_need_their_token(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (tenant, key) = new_tenant();
    let widget = widget_key(&tenant);

    let started = crm
        .start_conversation(request_as(&widget, start_request("widget", "hi")))
        .await
        .unwrap()
        .into_inner();
    let token = started.visitor_token.clone();
    assert_eq!(token.len(), 43);
    assert_eq!(started.messages[0].gate, "decided");
    // Shown once: reads never carry it, and only its hash is stored.
    let read = crm
        .get_conversation(request_as(&key, get(&started.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.visitor_token, "");
    let other = crm
        .start_conversation(request_as(&widget, start_request("widget", "")))
        .await
        .unwrap()
        .into_inner();

    let with_token = |id: &str, token: &str| proto::PostMessageRequest {
        visitor_token: token.to_owned(),
        ..post(id, "more")
    };
    // Missing, wrong, and another visitor's token: not found, like an
    // unknown conversation.
    for attempt in [
        with_token(&started.id, ""),
        with_token(&started.id, "not-the-token"),
        with_token(&started.id, &other.visitor_token),
        with_token(&other.id, &token),
    ] {
        let status = expect_code(
            crm.post_customer_message(request_as(&widget, attempt))
                .await,
            Code::NotFound,
        );
        assert_eq!(status.message(), "conversation not found");
    }
    assert_eq!(app.count_rows("crm_message").await, 1);

    let posted = crm
        .post_customer_message(request_as(&widget, with_token(&started.id, &token)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(posted.gate, "decided");

    // A widget key starts widget conversations only.
    expect_code(
        crm.start_conversation(request_as(&widget, start_request("sms", "hi")))
            .await,
        Code::PermissionDenied,
    );
    // A widget key reads nothing, and does nothing else.
    expect_code(
        crm.get_conversation(request_as(&widget, get(&started.id)))
            .await,
        Code::PermissionDenied,
    );
    expect_code(
        crm.post_ai_reply(request_as(&widget, with_token(&started.id, &token)))
            .await,
        Code::PermissionDenied,
    );
    // A conversation started by an integration key has no visitor token;
    // a widget key cannot post in it at all.
    let integration = crm
        .start_conversation(request_as(&key, start_request("widget", "")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(integration.visitor_token, "");
    expect_code(
        crm.post_customer_message(request_as(&widget, with_token(&integration.id, "")))
            .await,
        Code::NotFound,
    );
    // A widget start replayed by key cannot get the token again.
    let keyed = proto::StartConversationRequest {
        idempotency_key: "w-1".into(),
        ..start_request("widget", "hello")
    };
    crm.start_conversation(request_as(&widget, keyed.clone()))
        .await
        .unwrap();
    expect_code(
        crm.start_conversation(request_as(&widget, keyed)).await,
        Code::AlreadyExists,
    );
}

async fn conversations_are_listed_newest_first_with_filters(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (tenant, key) = new_tenant();
    let mut ids = Vec::new();
    for (channel, text) in [
        ("web", "hello"),
        ("sms", "I will sue"),
        ("web", "I smell gas"),
        ("phone", ""),
    ] {
        let started = crm
            .start_conversation(request_as(&key, start_request(channel, text)))
            .await
            .unwrap()
            .into_inner();
        ids.push(started.id);
    }
    // Another tenant's conversation is never listed.
    let (_, other_key) = new_tenant();
    crm.start_conversation(request_as(&other_key, start_request("web", "")))
        .await
        .unwrap();

    let lister = crm.clone();
    let list = |request: proto::ListConversationsRequest| {
        let mut crm = lister.clone();
        let key = key.clone();
        async move {
            crm.list_conversations(request_as(&key, request))
                .await
                .unwrap()
                .into_inner()
        }
    };
    let all = list(proto::ListConversationsRequest::default()).await;
    let listed: Vec<&str> = all.conversations.iter().map(|c| c.id.as_str()).collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(listed, newest_first);
    assert!(all.conversations.iter().all(|c| c.messages.is_empty()));
    assert_eq!(all.next_cursor, "");

    let page = list(proto::ListConversationsRequest {
        page_size: 3,
        ..Default::default()
    })
    .await;
    assert_eq!(page.conversations.len(), 3);
    let rest = list(proto::ListConversationsRequest {
        page_size: 3,
        cursor: page.next_cursor.clone(),
        ..Default::default()
    })
    .await;
    assert_eq!(rest.conversations.len(), 1);
    assert_eq!(rest.conversations[0].id, ids[0]);

    let handed_off = list(proto::ListConversationsRequest {
        status: "handed_off".into(),
        ..Default::default()
    })
    .await;
    let handed: Vec<&str> = handed_off
        .conversations
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(handed, [ids[2].as_str(), ids[1].as_str()]);
    let web = list(proto::ListConversationsRequest {
        channel: "web".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(web.conversations.len(), 2);

    let agent = user(&tenant, Role::Agent);
    let agent_id = agent.user.as_ref().unwrap().id.clone();
    crm.set_conversation_status(request_as(
        &agent,
        proto::SetConversationStatusRequest {
            assignee: agent_id.clone(),
            ..step(&ids[1], "assigned")
        },
    ))
    .await
    .unwrap();
    // A signed-in agent lists too.
    let mine = crm
        .list_conversations(request_as(
            &agent,
            proto::ListConversationsRequest {
                assignee: agent_id,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.conversations.len(), 1);
    assert_eq!(mine.conversations[0].id, ids[1]);
    let none = list(proto::ListConversationsRequest {
        customer_id: CustomerId::generate().into_string(),
        ..Default::default()
    })
    .await;
    assert!(none.conversations.is_empty());

    for bad in [
        proto::ListConversationsRequest {
            status: "open".into(),
            ..Default::default()
        },
        proto::ListConversationsRequest {
            channel: "fax".into(),
            ..Default::default()
        },
        proto::ListConversationsRequest {
            assignee: "bob".into(),
            ..Default::default()
        },
        proto::ListConversationsRequest {
            cursor: "cnv_nope".into(),
            ..Default::default()
        },
        proto::ListConversationsRequest {
            page_size: 101,
            ..Default::default()
        },
    ] {
        expect_code(
            crm.list_conversations(request_as(&key, bad)).await,
            Code::InvalidArgument,
        );
    }
}

async fn the_summary_is_set_by_a_key_or_an_agent(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (tenant, key) = new_tenant();
    let started = crm
        .start_conversation(request_as(&key, start_request("web", "")))
        .await
        .unwrap()
        .into_inner();
    let summarise = |summary: &str| proto::SetSummaryRequest {
        conversation_id: started.id.clone(),
        summary: summary.to_owned(),
    };
    let set = crm
        .set_summary(request_as(&key, summarise("Asked about a parcel")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(set.summary, "Asked about a parcel");
    let agent = user(&tenant, Role::Agent);
    let set = crm
        .set_summary(request_as(&agent, summarise("")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(set.summary, "");
    expect_code(
        crm.set_summary(request_as(&key, summarise(&"s".repeat(4001))))
            .await,
        Code::InvalidArgument,
    );
    expect_code(
        crm.set_summary(request_as(&widget_key(&tenant), summarise("mine")))
            .await,
        Code::PermissionDenied,
    );
    let read = crm
        .get_conversation(request_as(&key, get(&started.id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.summary, "");
}

async fn status_steps_follow_the_handoff(database: TestDatabase) {
    let app = TestApp::spawn(database).await;
    let mut crm = app.client().await;
    let (tenant, key) = new_tenant();
    let agent = user(&tenant, Role::Agent);
    let agent_id = agent.user.as_ref().unwrap().id.clone();
    let started = crm
        .start_conversation(request_as(&key, start_request("web", "I will sue")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(started.status, "handed_off");
    let id = started.id.clone();

    // Keys cannot step a conversation; people can.
    expect_code(
        crm.set_conversation_status(request_as(&key, step(&id, "resolved")))
            .await,
        Code::PermissionDenied,
    );
    // Assigning needs a well-formed assignee.
    for assignee in ["", "bob"] {
        expect_code(
            crm.set_conversation_status(request_as(
                &agent,
                proto::SetConversationStatusRequest {
                    assignee: assignee.into(),
                    ..step(&id, "assigned")
                },
            ))
            .await,
            Code::InvalidArgument,
        );
    }
    // handed_off -> ai_active? Not before ai_active -> handed_off checks:
    // refused steps from handed_off.
    for refused in ["closed", "handed_off"] {
        expect_code(
            crm.set_conversation_status(request_as(&agent, step(&id, refused)))
                .await,
            Code::FailedPrecondition,
        );
    }
    let assigned = crm
        .set_conversation_status(request_as(
            &agent,
            proto::SetConversationStatusRequest {
                assignee: agent_id.clone(),
                handoff_id: started.handoff_id.clone(),
                ..step(&id, "assigned")
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(assigned.status, "assigned");
    assert_eq!(assigned.assignee, agent_id);
    assert_eq!(assigned.handoff_id, started.handoff_id);
    // Re-claimed by another agent.
    let other_agent = UserId::generate().into_string();
    let reclaimed = crm
        .set_conversation_status(request_as(
            &agent,
            proto::SetConversationStatusRequest {
                assignee: other_agent.clone(),
                ..step(&id, "assigned")
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reclaimed.assignee, other_agent);
    // Handed back to the AI: the handoff and assignee are cleared.
    let back = crm
        .set_conversation_status(request_as(
            &agent,
            proto::SetConversationStatusRequest {
                handoff_id: HandoffId::generate().into_string(),
                ..step(&id, "ai_active")
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(back.status, "ai_active");
    assert_eq!(back.handoff_id, "");
    assert_eq!(back.assignee, "");
    expect_code(
        crm.set_conversation_status(request_as(&agent, step(&id, "closed")))
            .await,
        Code::FailedPrecondition,
    );
    crm.set_conversation_status(request_as(&agent, step(&id, "resolved")))
        .await
        .unwrap();
    // A customer writing again reopens a resolved conversation to the AI.
    crm.post_customer_message(request_as(&key, post(&id, "one more question")))
        .await
        .unwrap();
    let reopened = crm
        .get_conversation(request_as(&key, get(&id)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reopened.status, "ai_active");
    crm.set_conversation_status(request_as(&agent, step(&id, "resolved")))
        .await
        .unwrap();
    crm.set_conversation_status(request_as(&agent, step(&id, "closed")))
        .await
        .unwrap();
    for refused in ["ai_active", "assigned", "resolved", "closed"] {
        expect_code(
            crm.set_conversation_status(request_as(
                &agent,
                proto::SetConversationStatusRequest {
                    assignee: agent_id.clone(),
                    ..step(&id, refused)
                },
            ))
            .await,
            Code::FailedPrecondition,
        );
    }
    expect_code(
        crm.set_conversation_status(request_as(&agent, step(&id, "open")))
            .await,
        Code::InvalidArgument,
    );

    let changes = app.audit_actions("conversation.status_changed").await;
    let steps: Vec<(&str, &str)> = changes
        .iter()
        .map(|e| (e.details["from"].as_str(), e.details["to"].as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("handed_off", "assigned"),
            ("assigned", "assigned"),
            ("assigned", "ai_active"),
            ("ai_active", "resolved"),
            ("resolved", "ai_active"),
            ("ai_active", "resolved"),
            ("resolved", "closed"),
        ]
    );
    assert_eq!(changes[0].details["handoff_id"], started.handoff_id);
    assert_eq!(changes[0].actor, format!("user:{agent_id}"));
    for change in &changes {
        change.check_schema().unwrap();
    }
}
