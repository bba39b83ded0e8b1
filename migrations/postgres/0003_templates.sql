-- Templates: per brand and purpose, one version per locale and edit round, moving
-- draft -> in_review -> (changes_requested -> in_review) -> [client_review ->] approved
-- -> retired. Every transition, comment and edit is a row of template_events.

-- The languages a copywriter reviews (space-separated BCP-47 tags: "de en fr").
ALTER TABLE users ADD COLUMN locales TEXT NOT NULL DEFAULT '';
-- The client's contract asks its viewer to approve templates last (0/1).
ALTER TABLE clients ADD COLUMN template_approval BIGINT NOT NULL DEFAULT 0;

CREATE TABLE templates (
    id          BIGSERIAL PRIMARY KEY,
    client_id   BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    brand_id    BIGINT NOT NULL REFERENCES brands (id) ON DELETE CASCADE,
    name        TEXT   NOT NULL,
    purpose     TEXT   NOT NULL,
    channel     TEXT   NOT NULL,
    platform    TEXT   NOT NULL,
    created_by  BIGINT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX templates_client ON templates (client_id);
CREATE UNIQUE INDEX templates_brand_name_key ON templates (brand_id, lower(name));

CREATE TABLE template_versions (
    id            BIGSERIAL PRIMARY KEY,
    template_id   BIGINT NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    client_id     BIGINT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    locale        TEXT   NOT NULL,
    number        BIGINT NOT NULL,
    subject       TEXT   NOT NULL,
    html          TEXT   NOT NULL,
    text          TEXT   NOT NULL,
    status        TEXT   NOT NULL,
    author_id     BIGINT,
    author_email  TEXT   NOT NULL,
    blocking      BIGINT NOT NULL DEFAULT 0,
    warnings      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    submitted_at  BIGINT,
    approved_at   BIGINT
);
CREATE UNIQUE INDEX template_versions_number_key ON template_versions (template_id, locale, number);
CREATE INDEX template_versions_queue ON template_versions (client_id, status);

-- Everyone who wrote any of a version's text: none of them may approve it.
CREATE TABLE template_version_editors (
    version_id BIGINT NOT NULL REFERENCES template_versions (id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL,
    PRIMARY KEY (version_id, user_id)
);

CREATE TABLE template_events (
    id           BIGSERIAL PRIMARY KEY,
    version_id   BIGINT NOT NULL REFERENCES template_versions (id) ON DELETE CASCADE,
    client_id    BIGINT NOT NULL,
    at           BIGINT NOT NULL,
    actor_id     BIGINT,
    actor_email  TEXT   NOT NULL,
    action       TEXT   NOT NULL,
    from_status  TEXT   NOT NULL,
    to_status    TEXT   NOT NULL,
    comment      TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX template_events_version ON template_events (version_id, at);
