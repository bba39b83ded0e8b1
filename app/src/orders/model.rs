//! Orders as Starling keeps them, whatever platform they came from.

use serde::{Deserialize, Serialize};

/// Where an order is in its life. Statuses only move forward (`rank`): a later file can
/// ship or deliver an order, or end it (cancelled, refunded, returned), never undo that.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    #[default]
    Pending,
    Fulfilled,
    Delivered,
    Cancelled,
    Refunded,
    Returned,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::Pending,
        OrderStatus::Fulfilled,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::Refunded,
        OrderStatus::Returned,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Fulfilled => "fulfilled",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Returned => "returned",
        }
    }

    pub fn parse(value: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|s| s.as_str() == value)
    }

    fn rank(self) -> u8 {
        match self {
            OrderStatus::Pending => 0,
            OrderStatus::Fulfilled => 1,
            OrderStatus::Delivered => 2,
            OrderStatus::Cancelled | OrderStatus::Refunded | OrderStatus::Returned => 3,
        }
    }

    /// Whether an order now in `self` may be moved to `next` by a later import.
    pub fn moves_forward_to(self, next: OrderStatus) -> bool {
        next.rank() > self.rank()
    }
}

/// One line item.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderItem {
    pub sku: String,
    pub product_name: String,
    /// Amazon's ASIN or eBay's item number, when the platform gives one.
    pub listing_id: String,
    pub quantity: u32,
    /// In the order's currency, in minor units (cents).
    pub unit_price_minor: Option<i64>,
}

/// An order as read from a platform file or the ingest API, before it is stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedOrder {
    /// The file line the order starts on (1-based, header is line 1), for messages.
    pub line: u64,
    pub platform_order_id: String,
    /// Epoch milliseconds.
    pub placed_at: Option<i64>,
    pub status: Option<OrderStatus>,
    /// When the status was reached, when the file says (Shopify's `Fulfilled at`…).
    pub status_at: Option<i64>,
    pub buyer_email: String,
    pub buyer_phone: String,
    pub buyer_name: String,
    /// ISO 3166-1 alpha-2 when known.
    pub country: String,
    pub marketplace: String,
    pub currency: String,
    pub total_minor: Option<i64>,
    pub items: Vec<OrderItem>,
    /// The buyer agreed to e-mail marketing at checkout (Shopify's `Accepts Marketing`,
    /// the API's `consent`); `None` when the source does not say.
    #[serde(default)]
    pub accepts_marketing: Option<bool>,
    /// The buyer agreed to marketing texts, with the words shown at the time (Shopify's SMS
    /// marketing consent, the API's `sms_consent`); `None` when the source does not say.
    #[serde(default)]
    pub sms_consent: Option<String>,
    /// The buyer opted in to WhatsApp messages from the brand, with the words shown (the
    /// API's `whatsapp_consent`); `None` when the source does not say.
    #[serde(default)]
    pub whatsapp_consent: Option<String>,
    /// The delivery window the platform promised the buyer (Amazon's earliest and latest
    /// delivery dates, eBay's estimated ones), epoch milliseconds: a review request may
    /// only be asked for within days of it.
    #[serde(default)]
    pub earliest_delivery_at: Option<i64>,
    #[serde(default)]
    pub latest_delivery_at: Option<i64>,
    /// Values the file gave that could not be used (an e-mail column holding no address,
    /// an unknown country…): the order is kept without them, and the import reports each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<RowError>,
}

impl ParsedOrder {
    /// An order of `quantity` × one product at `unit_price_minor`, placed at `placed_at`
    /// and in `status` since `status_at` (demo data, benchmarks and tests; the rest of the
    /// fields by struct update).
    #[allow(clippy::too_many_arguments)]
    pub fn one_item(
        platform_order_id: String,
        buyer_email: String,
        buyer_name: String,
        country: &str,
        placed_at: i64,
        status: OrderStatus,
        status_at: i64,
        product_name: &str,
        quantity: u32,
        unit_price_minor: i64,
    ) -> ParsedOrder {
        ParsedOrder {
            line: 0,
            platform_order_id,
            placed_at: Some(placed_at),
            status: Some(status),
            status_at: Some(status_at),
            buyer_email,
            buyer_name,
            country: country.into(),
            total_minor: Some(unit_price_minor * i64::from(quantity)),
            items: vec![OrderItem {
                sku: "SKU-1".into(),
                product_name: product_name.into(),
                listing_id: String::new(),
                quantity,
                unit_price_minor: Some(unit_price_minor),
            }],
            ..ParsedOrder::default()
        }
    }
}

/// The buyer's locale from the marketplace they bought on (amazon.de -> de-DE), else
/// from their country (AT -> de-AT), else the brand's default.
pub fn infer_locale(marketplace: &str, country: &str, brand_default: &str) -> String {
    const MARKETS: [(&str, &str); 16] = [
        (".co.uk", "en-GB"),
        (".com.au", "en-AU"),
        (".ca", "en-CA"),
        (".co.jp", "ja-JP"),
        (".com.mx", "es-MX"),
        (".com.be", "fr-BE"),
        (".de", "de-DE"),
        (".at", "de-AT"),
        (".fr", "fr-FR"),
        (".it", "it-IT"),
        (".es", "es-ES"),
        (".nl", "nl-NL"),
        (".se", "sv-SE"),
        (".pl", "pl-PL"),
        (".ie", "en-IE"),
        (".com", "en-US"),
    ];
    let market = marketplace.trim().to_ascii_lowercase();
    if let Some((_, locale)) = MARKETS.iter().find(|(suffix, _)| market.ends_with(suffix)) {
        return locale.to_string();
    }
    const LANGUAGES: [(&str, &str); 24] = [
        ("DE", "de"),
        ("AT", "de"),
        ("CH", "de"),
        ("LI", "de"),
        ("FR", "fr"),
        ("BE", "fr"),
        ("LU", "fr"),
        ("MC", "fr"),
        ("IT", "it"),
        ("SM", "it"),
        ("ES", "es"),
        ("MX", "es"),
        ("AR", "es"),
        ("JP", "ja"),
        ("CN", "zh"),
        ("TW", "zh"),
        ("NL", "nl"),
        ("SE", "sv"),
        ("PL", "pl"),
        ("PT", "pt"),
        ("BR", "pt"),
        ("DK", "da"),
        ("GB", "en"),
        ("US", "en"),
    ];
    let country = country.trim().to_ascii_uppercase();
    if let Some((_, language)) = LANGUAGES.iter().find(|(code, _)| *code == country) {
        return format!("{language}-{country}");
    }
    if country.len() == 2 && ["IE", "CA", "AU", "NZ", "SG", "IN"].contains(&country.as_str()) {
        return format!("en-{country}");
    }
    brand_default.to_string()
}

/// Countries where an e-mail review request needs the buyer's recorded opt-in (in
/// Germany a review request by e-mail counts as advertising, BGH VI ZR 225/17).
pub fn requires_opt_in(country: &str) -> bool {
    matches!(country, "DE" | "AT")
}

/// Filters of the orders list (all optional), plus sorting and paging.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderFilter {
    pub store_id: Option<i64>,
    pub status: Option<String>,
    /// Epoch millis, inclusive.
    pub from: Option<i64>,
    /// Epoch millis, exclusive.
    pub until: Option<i64>,
}

/// One order as lists show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRow {
    pub id: i64,
    pub store_name: String,
    pub platform_order_id: String,
    pub customer_id: Option<i64>,
    pub buyer_name: String,
    pub buyer_email: String,
    pub country: String,
    pub placed_at: i64,
    pub status: OrderStatus,
    pub status_at: i64,
    pub currency: String,
    pub total_minor: Option<i64>,
    pub items: i64,
}

/// A customer with their orders and consents, for the customer page and the GDPR export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub id: i64,
    pub client_id: i64,
    pub brand_id: i64,
    pub brand_name: String,
    pub email: String,
    pub phone: String,
    pub name: String,
    pub country: String,
    pub locale: String,
    pub created_at: i64,
}

/// One entry of the consent ledger: a buyer's agreement to be contacted on a channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// `email` or `sms`.
    pub channel: String,
    /// Where it was recorded (a checkout opt-in of an import, the ingest API, a person).
    pub source: String,
    pub given_at: i64,
    /// `marketing` (review requests, repurchase, surveys) or `service`.
    #[serde(default)]
    pub scope: String,
    /// The words the buyer agreed to (express written consent to texts needs them).
    #[serde(default)]
    pub wording: String,
}

/// Where an import job is: its file arriving, then waiting to be started (with its
/// columns to be mapped first when the layout is unknown), waiting for a worker, being
/// read, and how it ended. Stored as the text of [`ImportState::as_str`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportState {
    Receiving,
    Uploaded,
    NeedsMapping,
    Queued,
    Running,
    Done,
    Failed,
}

impl ImportState {
    pub const ALL: [ImportState; 7] = [
        ImportState::Receiving,
        ImportState::Uploaded,
        ImportState::NeedsMapping,
        ImportState::Queued,
        ImportState::Running,
        ImportState::Done,
        ImportState::Failed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ImportState::Receiving => "receiving",
            ImportState::Uploaded => "uploaded",
            ImportState::NeedsMapping => "needs_mapping",
            ImportState::Queued => "queued",
            ImportState::Running => "running",
            ImportState::Done => "done",
            ImportState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<ImportState> {
        ImportState::ALL.into_iter().find(|state| state.as_str() == s)
    }

    /// As pages show it ("needs mapping").
    pub const fn label(self) -> &'static str {
        match self {
            ImportState::NeedsMapping => "needs mapping",
            other => other.as_str(),
        }
    }

    /// Uploaded and waiting for the user to look at the preview (or map the columns) and
    /// start it.
    pub fn awaits_start(self) -> bool {
        matches!(self, ImportState::Uploaded | ImportState::NeedsMapping)
    }

    /// Waiting for a worker or being read: its page follows the progress.
    pub fn in_progress(self) -> bool {
        matches!(self, ImportState::Queued | ImportState::Running)
    }

    pub fn has_ended(self) -> bool {
        matches!(self, ImportState::Done | ImportState::Failed)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: i64,
    pub client_id: i64,
    pub store_id: i64,
    pub store_name: String,
    pub file_name: String,
    pub size_bytes: i64,
    pub layout: String,
    pub encoding: String,
    pub state: ImportState,
    pub bytes_read: i64,
    pub rows_read: i64,
    pub orders_new: i64,
    pub orders_updated: i64,
    pub orders_unchanged: i64,
    pub rows_rejected: i64,
    /// Values of imported orders that could not be used (the orders were kept).
    pub values_set_aside: i64,
    pub message: String,
    pub created_by: String,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

impl Job {
    /// Share of the file read, 0–100.
    pub fn percent(&self) -> u8 {
        match self.state {
            ImportState::Done => 100,
            _ if self.size_bytes <= 0 => 0,
            _ => ((self.bytes_read.max(0) as f64 / self.size_bytes as f64) * 100.0).min(99.0) as u8,
        }
    }
}

/// Why an address is suppressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Unsubscribed,
    HardBounce,
    Complaint,
    Manual,
    Erased,
}

impl Reason {
    pub const ALL: [Reason; 5] = [Reason::Unsubscribed, Reason::HardBounce, Reason::Complaint, Reason::Manual, Reason::Erased];

    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Unsubscribed => "unsubscribed",
            Reason::HardBounce => "hard_bounce",
            Reason::Complaint => "complaint",
            Reason::Manual => "manual",
            Reason::Erased => "erased",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Reason::Unsubscribed => "Unsubscribed",
            Reason::HardBounce => "Hard bounce",
            Reason::Complaint => "Complaint",
            Reason::Manual => "Added by hand",
            Reason::Erased => "Erased buyer",
        }
    }

    /// Whether staff may take an entry off the list: unsubscribes, complaints and erasures
    /// are the buyer's decision and stay.
    pub fn is_removable(self) -> bool {
        matches!(self, Reason::Manual | Reason::HardBounce)
    }

    /// Reads a reason as people write it (`Hard bounce`, `unsubscribe`) or as it is stored.
    pub fn parse(value: &str) -> Option<Reason> {
        let v = value.trim().to_lowercase().replace([' ', '-'], "_");
        Reason::ALL
            .into_iter()
            .find(|r| r.as_str() == v || (v == "bounce" && *r == Reason::HardBounce) || (v == "unsubscribe" && *r == Reason::Unsubscribed))
    }
}

/// Which suppression list: one brand's, or the agency-wide one (`brand_id` None).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub client_id: Option<i64>,
    pub brand_id: Option<i64>,
}

/// One entry as lists and exports show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: i64,
    pub brand_id: Option<i64>,
    pub brand_name: String,
    /// "" for erased buyers (only the fingerprint is kept).
    pub value: String,
    pub reason: Reason,
    pub note: String,
    pub created_at: i64,
    pub created_by: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: i64,
    pub store_id: i64,
    pub label: String,
    /// The key's first characters, to tell keys apart (never the whole key).
    pub prefix: String,
    pub created_by: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A bad row: where, which field, and why, in words the user can act on.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RowError {
    pub line: u64,
    pub field: String,
    pub reason: String,
}

impl RowError {
    pub fn new(line: u64, field: &str, reason: impl Into<String>) -> Self {
        RowError { line, field: field.to_string(), reason: reason.into() }
    }
}

/// Starling field -> the file's header for it ("" = not in the file).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Mapping {
    pub order_id: String,
    pub placed_at: String,
    pub status: String,
    pub status_at: String,
    pub email: String,
    pub phone: String,
    pub name: String,
    pub country: String,
    pub currency: String,
    pub total: String,
    pub product_name: String,
    pub sku: String,
    pub quantity: String,
    pub unit_price: String,
}

/// (field key, label, required) of every mappable field, in form order.
pub const FIELDS: [(&str, &str, bool); 14] = [
    ("order_id", "Order id", true),
    ("placed_at", "Order date", true),
    ("status", "Status", false),
    ("status_at", "Status date (shipped/delivered at)", false),
    ("email", "Buyer e-mail", false),
    ("phone", "Buyer phone", false),
    ("name", "Buyer name", false),
    ("country", "Country", false),
    ("currency", "Currency", false),
    ("total", "Order total", false),
    ("product_name", "Product name", true),
    ("sku", "SKU", false),
    ("quantity", "Quantity", false),
    ("unit_price", "Unit price", false),
];

impl Mapping {
    pub fn get(&self, key: &str) -> &str {
        match key {
            "order_id" => &self.order_id,
            "placed_at" => &self.placed_at,
            "status" => &self.status,
            "status_at" => &self.status_at,
            "email" => &self.email,
            "phone" => &self.phone,
            "name" => &self.name,
            "country" => &self.country,
            "currency" => &self.currency,
            "total" => &self.total,
            "product_name" => &self.product_name,
            "sku" => &self.sku,
            "quantity" => &self.quantity,
            "unit_price" => &self.unit_price,
            _ => "",
        }
    }

    pub fn set(&mut self, key: &str, header: String) {
        let slot = match key {
            "order_id" => &mut self.order_id,
            "placed_at" => &mut self.placed_at,
            "status" => &mut self.status,
            "status_at" => &mut self.status_at,
            "email" => &mut self.email,
            "phone" => &mut self.phone,
            "name" => &mut self.name,
            "country" => &mut self.country,
            "currency" => &mut self.currency,
            "total" => &mut self.total,
            "product_name" => &mut self.product_name,
            "sku" => &mut self.sku,
            "quantity" => &mut self.quantity,
            "unit_price" => &mut self.unit_price,
            _ => return,
        };
        *slot = header;
    }

    /// Field-level problems: required fields unmapped, headers the file lacks, an e-mail
    /// or phone column so the order can be reached.
    pub fn problems(&self, headers: &[String]) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        for (key, label, required) in FIELDS {
            let header = self.get(key);
            if header.is_empty() {
                if required {
                    problems.push((key.to_string(), format!("{label} is required: pick the column that holds it.")));
                }
            } else if !headers.iter().any(|h| h == header) {
                problems.push((key.to_string(), format!("The file has no column \"{header}\".")));
            }
        }
        if self.email.is_empty() && self.phone.is_empty() {
            problems.push(("email".to_string(), "Map the buyer e-mail or phone: without either nobody can be contacted.".to_string()));
        }
        problems
    }

    /// A first guess from the header names (the user confirms or changes it).
    pub fn guess(headers: &[String]) -> Mapping {
        const HINTS: [(&str, &[&str]); 14] = [
            ("order_id", &["order id", "order number", "order", "order no", "bestellnummer"]),
            ("placed_at", &["order date", "created at", "date", "purchase date", "bestelldatum"]),
            ("status", &["status", "order status"]),
            ("status_at", &["shipped at", "fulfilled at", "delivered at", "ship date"]),
            ("email", &["email", "e-mail", "buyer email", "customer email"]),
            ("phone", &["phone", "telephone", "mobile"]),
            ("name", &["name", "customer name", "buyer name", "customer"]),
            ("country", &["country", "ship country", "land"]),
            ("currency", &["currency", "währung"]),
            ("total", &["total", "order total", "amount"]),
            ("product_name", &["product", "product name", "item", "item title", "title", "artikel"]),
            ("sku", &["sku", "item sku", "article number"]),
            ("quantity", &["quantity", "qty", "menge"]),
            ("unit_price", &["price", "unit price", "item price", "preis"]),
        ];
        let mut mapping = Mapping::default();
        let mut used: Vec<&str> = Vec::new();
        for (key, hints) in HINTS {
            let found = hints.iter().find_map(|hint| headers.iter().find(|h| h.to_lowercase() == *hint && !used.contains(&h.as_str())));
            if let Some(header) = found {
                used.push(header);
                mapping.set(key, header.clone());
            }
        }
        mapping
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_move_forward_only() {
        use OrderStatus::*;
        assert!(Pending.moves_forward_to(Fulfilled));
        assert!(Fulfilled.moves_forward_to(Delivered));
        assert!(Delivered.moves_forward_to(Returned));
        assert!(Pending.moves_forward_to(Cancelled));
        assert!(!Delivered.moves_forward_to(Fulfilled));
        assert!(!Fulfilled.moves_forward_to(Pending));
        assert!(!Refunded.moves_forward_to(Delivered));
        assert!(!Fulfilled.moves_forward_to(Fulfilled));
    }

    #[test]
    fn locale_comes_from_marketplace_then_country_then_brand() {
        assert_eq!(infer_locale("Amazon.de", "AT", "en"), "de-DE");
        assert_eq!(infer_locale("amazon.co.uk", "", "de"), "en-GB");
        assert_eq!(infer_locale("", "AT", "en"), "de-AT");
        assert_eq!(infer_locale("", "fr", "en"), "fr-FR");
        assert_eq!(infer_locale("", "", "it-IT"), "it-IT");
        assert_eq!(infer_locale("", "ZZ", "en"), "en");
    }
}
