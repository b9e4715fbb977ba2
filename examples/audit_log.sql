-- The database side of examples/audit_log.rs. Run it once, as a role that may create a
-- schema in the database:
--
--   psql "postgres://postgres@127.0.0.1:5432/postgres" -f examples/audit_log.sql
--
-- It is safe to run again. The app only inserts rows: its role needs nothing more than
-- INSERT on audit_demo.auth_audit_log (and USAGE on the schema and its sequence).

CREATE SCHEMA IF NOT EXISTS audit_demo;

-- tududi's auth_audit_log, keyed by the identity provider's (issuer, subject) instead of a
-- local user id: what happened, to whom, from where, with what, and when.
CREATE TABLE IF NOT EXISTS audit_demo.auth_audit_log (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- sign_in, sign_in_failed, sign_in_refused, sign_out
    event_type  text        NOT NULL,
    -- The subject at `metadata->>'issuer'`; NULL when no ID token was verified.
    user_id     text,
    -- The client's address: the connection's peer, or what a trusted proxy forwarded.
    ip_address  inet,
    user_agent  text,
    -- provider, issuer and, for a failure or refusal, its kind.
    metadata    jsonb       NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS auth_audit_log_user ON audit_demo.auth_audit_log (user_id, created_at);
