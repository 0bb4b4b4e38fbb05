//! The emulator's built-in directory: one tenant, its users, apps and roles.
//! Printed by `mscommerce emulator`; tests sign in with these.

/// Directory role template ids carried in `wids`.
pub const ROLE_GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";
pub const ROLE_BILLING_ADMIN: &str = "b0f54661-2d74-4c50-afa3-1ec803f12efe";
pub const ROLE_GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";

pub const TENANT_ID: &str = "5c0e7b52-3e1a-4c8b-9a61-0d9f6f2b7e10";
pub const TENANT_DOMAIN: &str = "contoso.onmicrosoft.com";

pub struct User {
    /// Short name for tests and the control endpoint ("admin").
    pub key: &'static str,
    pub upn: &'static str,
    pub password: &'static str,
    pub object_id: &'static str,
    pub roles: &'static [&'static str],
}

pub const USERS: &[User] = &[
    User {
        key: "admin",
        upn: "admin@contoso.onmicrosoft.com",
        password: "Emulator-Admin-1",
        object_id: "0a1b2c3d-0000-4000-8000-000000000001",
        roles: &[ROLE_GLOBAL_ADMIN],
    },
    User {
        key: "billing",
        upn: "billing@contoso.onmicrosoft.com",
        password: "Emulator-Billing-1",
        object_id: "0a1b2c3d-0000-4000-8000-000000000002",
        roles: &[ROLE_BILLING_ADMIN],
    },
    User {
        key: "reader",
        upn: "reader@contoso.onmicrosoft.com",
        password: "Emulator-Reader-1",
        object_id: "0a1b2c3d-0000-4000-8000-000000000003",
        roles: &[ROLE_GLOBAL_READER],
    },
    User {
        key: "user",
        upn: "user@contoso.onmicrosoft.com",
        password: "Emulator-User-1",
        object_id: "0a1b2c3d-0000-4000-8000-000000000004",
        roles: &[],
    },
];

/// A confidential app (client secret); app-only tokens carry the directory
/// roles assigned to its service principal in `wids`.
pub struct App {
    pub key: &'static str,
    pub client_id: &'static str,
    pub secret: &'static str,
    pub roles: &'static [&'static str],
}

pub const APPS: &[App] = &[
    App {
        key: "automation",
        client_id: "8f0e2a6c-5d3b-4c1e-9a7f-2b6d4e8c1a01",
        secret: "emulator-app-secret",
        roles: &[ROLE_BILLING_ADMIN],
    },
    App {
        key: "auditor",
        client_id: "8f0e2a6c-5d3b-4c1e-9a7f-2b6d4e8c1a02",
        secret: "emulator-auditor-secret",
        roles: &[ROLE_GLOBAL_READER],
    },
];

/// Public clients allowed to sign users in: the published module's client
/// and a tenant's own app registration.
pub const PUBLIC_CLIENTS: &[&str] = &[
    crate::auth::MODULE_CLIENT_ID,
    "8f0e2a6c-5d3b-4c1e-9a7f-2b6d4e8c1a10",
];

pub fn user_by_key(key: &str) -> Option<&'static User> {
    USERS.iter().find(|u| u.key.eq_ignore_ascii_case(key))
}

pub fn user_by_upn(upn: &str) -> Option<&'static User> {
    USERS.iter().find(|u| u.upn.eq_ignore_ascii_case(upn))
}

pub fn app_by_client_id(id: &str) -> Option<&'static App> {
    APPS.iter().find(|a| a.client_id.eq_ignore_ascii_case(id))
}

/// Whether a tenant path segment names the emulator's tenant; user flows
/// also accept `organizations` and `common`.
pub fn tenant_matches(tenant: &str, user_flow: bool) -> bool {
    tenant.eq_ignore_ascii_case(TENANT_ID)
        || tenant.eq_ignore_ascii_case(TENANT_DOMAIN)
        || (user_flow
            && (tenant.eq_ignore_ascii_case("organizations")
                || tenant.eq_ignore_ascii_case("common")))
}

/// Roles that may read policies, and those that may change them.
pub fn can_read(roles: &[String]) -> bool {
    roles
        .iter()
        .any(|r| r == ROLE_GLOBAL_ADMIN || r == ROLE_BILLING_ADMIN || r == ROLE_GLOBAL_READER)
}

pub fn can_write(roles: &[String]) -> bool {
    roles
        .iter()
        .any(|r| r == ROLE_GLOBAL_ADMIN || r == ROLE_BILLING_ADMIN)
}
