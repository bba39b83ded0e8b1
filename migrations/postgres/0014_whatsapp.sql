-- WhatsApp: a template version gains its WhatsApp part and the Meta category it is filed
-- under; once the version is approved, the part is submitted to Meta as a message
-- template, whose review Meta reports (pending, approved, rejected with a reason). A brand
-- names the WhatsApp Business phone number it sends from (the Cloud API's phone number id).
ALTER TABLE template_versions ADD COLUMN whatsapp_body TEXT NOT NULL DEFAULT '';
ALTER TABLE template_versions ADD COLUMN whatsapp_category TEXT NOT NULL DEFAULT ''; -- MARKETING | UTILITY
ALTER TABLE brands ADD COLUMN whatsapp_phone_id TEXT NOT NULL DEFAULT '';

CREATE TABLE whatsapp_templates (
    version_id   BIGINT PRIMARY KEY REFERENCES template_versions (id) ON DELETE CASCADE,
    name         TEXT   NOT NULL, -- starling_<template>_<version>
    language     TEXT   NOT NULL, -- Meta's code: de, en_GB, pt_BR
    category     TEXT   NOT NULL, -- as Meta last reported it
    meta_id      TEXT   NOT NULL DEFAULT '',
    status       TEXT   NOT NULL, -- pending | approved | rejected | paused | disabled | refused
    reason       TEXT   NOT NULL DEFAULT '',
    submitted_at BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX whatsapp_templates_name ON whatsapp_templates (name, language);
