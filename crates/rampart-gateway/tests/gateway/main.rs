//! The gateway's own tests: the real router and pipeline in front of stub
//! backends (tonic servers on port 0 over mTLS, [`stubs`]) that count every
//! call, so each test can say which backend calls a request made, or that
//! it made none.

mod admin_sign_in;
mod authentication;
mod route_principals;
mod schedule_routes;
mod stubs;
mod support_routes;
