-- The database side of examples/postgres_rls.rs. Run it once as a superuser:
--
--   psql "postgres://postgres@127.0.0.1:5432/postgres" -f examples/postgres_rls.sql
--
-- It is safe to run again. It creates:
--   * app_admin and app_reader: the roles the role map (examples/quickstart.toml) hands out.
--     They cannot log in; the app switches to them with SET LOCAL ROLE.
--   * rls_app: the login role the app connects as. NOINHERIT, so on its own it can read
--     nothing: every query must run as the user's role.
--   * rls_demo.documents: a table whose row-level security policies differ per role.

DO $$ BEGIN CREATE ROLE app_admin NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE app_reader NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN CREATE ROLE rls_app LOGIN NOINHERIT PASSWORD 'rls_app';
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

-- The login role may switch to each role of the role map (the startup check verifies this).
GRANT app_admin TO rls_app;
GRANT app_reader TO rls_app;

CREATE SCHEMA IF NOT EXISTS rls_demo;
GRANT USAGE ON SCHEMA rls_demo TO app_admin, app_reader;

CREATE TABLE IF NOT EXISTS rls_demo.documents (
    id       integer PRIMARY KEY,
    title    text    NOT NULL,
    audience text    NOT NULL CHECK (audience IN ('everyone', 'admins'))
);
INSERT INTO rls_demo.documents (id, title, audience) VALUES
    (1, 'Welcome to the team', 'everyone'),
    (2, 'Holiday rota', 'everyone'),
    (3, 'Salary review 2026', 'admins'),
    (4, 'Incident report: the outage of 3 March', 'admins')
ON CONFLICT (id) DO NOTHING;

GRANT SELECT ON rls_demo.documents TO app_admin, app_reader;

-- Row-level security, enforced even for the table's owner.
ALTER TABLE rls_demo.documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE rls_demo.documents FORCE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS admins_read_everything ON rls_demo.documents;
CREATE POLICY admins_read_everything ON rls_demo.documents
    FOR SELECT TO app_admin USING (true);

DROP POLICY IF EXISTS readers_read_shared ON rls_demo.documents;
CREATE POLICY readers_read_shared ON rls_demo.documents
    FOR SELECT TO app_reader USING (audience = 'everyone');
