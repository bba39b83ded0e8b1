//! Starling's integration suite: the real server on a free port over a fresh database
//! (SQLite, or PostgreSQL with `STARLING_TEST_DB=postgres`), driven over HTTP and, for the
//! journeys, through headless Chromium.

mod architecture;
mod authz;
mod browser;
mod campaigns;
mod connectors;
mod data_layer;
mod delivery;
mod foundation;
mod fuzz;
mod orders;
mod reports;
mod solicitations;
mod templates;
mod texts;
mod whatsapp;
