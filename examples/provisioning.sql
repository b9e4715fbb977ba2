-- The database side of examples/provisioning.rs. Run it once, as a role that may create a
-- schema in the database:
--
--   psql "postgres://postgres@127.0.0.1:5432/postgres" -f examples/provisioning.sql
--
-- It is safe to run again. The app itself only reads and writes rows (it checks at startup
-- that the table is there and names this file when it is not), so it may connect as a role
-- that holds nothing more than SELECT, INSERT and UPDATE on provisioning_demo.users.

CREATE SCHEMA IF NOT EXISTS provisioning_demo;

-- The application's own users, one row per account at an identity provider.
--
-- A user is keyed by (issuer, subject): `sub` is unique and never reassigned only within one
-- issuer (OpenID Connect Core 1.0, section 5.7), and an email address is neither stable nor
-- unique across providers. Never look a user up by email alone: whoever controls an address
-- at some other provider would take over the account. `email` and `name` are refreshed from
-- the provider at every login; they are shown, never matched.
CREATE TABLE IF NOT EXISTS provisioning_demo.users (
    id          bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issuer      text    NOT NULL,
    subject     text    NOT NULL,
    email       text,
    name        text,
    -- NULL until the first login: an administrator may add a user by (issuer, subject)
    -- before they ever sign in (needed when OIDC_AUTO_PROVISION=false).
    first_login timestamptz,
    last_login  timestamptz,
    logins      integer NOT NULL DEFAULT 0,
    UNIQUE (issuer, subject)
);
