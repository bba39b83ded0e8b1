-- Foundation: agency users, sessions, the audit log, and the tenancy tree
-- clients -> brands -> stores. Times are UTC milliseconds since the epoch (BIGINT) on
-- both databases so that one set of queries serves SQLite and PostgreSQL.

CREATE TABLE clients (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL,
    contact_email TEXT    NOT NULL DEFAULT '',
    support_email TEXT    NOT NULL DEFAULT '',
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);
CREATE UNIQUE INDEX clients_name_key ON clients (lower(name));

CREATE TABLE brands (
    id              INTEGER PRIMARY KEY,
    client_id       BIGINT  NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    sender_name     TEXT    NOT NULL,
    sender_email    TEXT    NOT NULL,
    sending_domain  TEXT    NOT NULL,
    default_locale  TEXT    NOT NULL,
    postal_address  TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX brands_client ON brands (client_id);
CREATE UNIQUE INDEX brands_client_name_key ON brands (client_id, lower(name));

CREATE TABLE stores (
    id          INTEGER PRIMARY KEY,
    client_id   BIGINT  NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    brand_id    BIGINT  NOT NULL REFERENCES brands (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    platform    TEXT    NOT NULL,
    marketplace TEXT    NOT NULL,
    currency    TEXT    NOT NULL,
    time_zone   TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
CREATE INDEX stores_client ON stores (client_id);
CREATE INDEX stores_brand ON stores (brand_id);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    disabled      BIGINT  NOT NULL DEFAULT 0, -- 0/1: the Any driver decodes no SQLite BOOLEAN
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE user_clients (
    user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX user_clients_client ON user_clients (client_id);

CREATE TABLE sessions (
    token_hash   TEXT   PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE sign_in_failures (
    id    INTEGER PRIMARY KEY,
    email TEXT   NOT NULL,
    at    BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_email_at ON sign_in_failures (email, at);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor_id    BIGINT,
    actor_email TEXT   NOT NULL,
    action      TEXT   NOT NULL,
    client_id   BIGINT,
    subject     TEXT   NOT NULL,
    detail      TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_client ON audit_log (client_id, at);
