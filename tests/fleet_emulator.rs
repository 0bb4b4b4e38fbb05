//! The emulator's customer tenants over HTTP (docs/fleet.md §4): the fleet
//! from a file named by MSCOMMERCE_EMULATOR_TENANTS, the control endpoints,
//! and the identity platform's answers per tenant (status, error,
//! error_codes) for a consented app, one not consented, one without its
//! service principal, an unknown tenant, and the partner's refresh token.
#![cfg(feature = "emulator")]

use mscommerce::emulator::directory::{PARTNER_APP, PARTNER_USER};
use mscommerce::emulator::fleet::TENANTS_FILE_VARIABLE;
use mscommerce::emulator::{Emulator, EmulatorConfig};
use serde_json::{json, Value};

const SCOPE: &str = "aeb86249-8ea3-49e2-900b-54cc8e308f85/.default";

async fn token(
    http: &reqwest::Client,
    emu: &Emulator,
    tenant: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let r = http
        .post(format!("{}/{tenant}/oauth2/v2.0/token", emu.url()))
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// The module's own grant at `tenant`: `grant_type` with `fields`, the
/// module's client id and the scope.
async fn module_grant(
    http: &reqwest::Client,
    emu: &Emulator,
    tenant: &str,
    grant_type: &str,
    fields: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", grant_type),
        ("client_id", mscommerce::auth::MODULE_CLIENT_ID),
    ];
    form.extend_from_slice(fields);
    form.push(("scope", SCOPE));
    token(http, emu, tenant, &form).await
}

/// POST `body` to the emulator's control endpoint `path`; the status.
async fn control_post(http: &reqwest::Client, emu: &Emulator, path: &str, body: Value) -> u16 {
    http.post(format!("{}{path}", emu.url()))
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The platform's refusal: the HTTP status, `error` and the first of
/// `error_codes`.
#[track_caller]
fn assert_refused(status: u16, body: &Value, http_status: u16, error: &str, code: u64) {
    assert_eq!((status, body["error"].as_str()), (http_status, Some(error)));
    assert_eq!(body["error_codes"][0], code);
}

/// The partner's multi-tenant app at `tenant`, app-only with `secret`.
async fn app_grant(
    http: &reqwest::Client,
    emu: &Emulator,
    tenant: &str,
    secret: &str,
) -> (u16, Value) {
    token(
        http,
        emu,
        tenant,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", PARTNER_APP.client_id),
            ("client_secret", secret),
            ("scope", SCOPE),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_from_a_file_and_the_platforms_answers_per_tenant() {
    let file = std::env::temp_dir().join(format!("mscommerce-fleet-{}.json", std::process::id()));
    std::fs::write(
        &file,
        json!({"tenants": [
            {"tenantId": "22222222-0000-4000-8000-000000000001", "domain": "a.example.com"},
            {"tenantId": "22222222-0000-4000-8000-000000000002", "domain": "b.example.com",
             "app": "notConsented", "partnerAccess": false},
            {"tenantId": "22222222-0000-4000-8000-000000000003", "app": "noServicePrincipal",
             "catalogue": "seed", "policyValue": "Disabled"}],
              "generate": {"count": 2, "drifted": 1}})
        .to_string(),
    )
    .unwrap();
    // The only test of this file: the variable is read by every emulator
    // started while it is set.
    std::env::set_var(TENANTS_FILE_VARIABLE, &file);
    let emu = Emulator::start_background(EmulatorConfig::default());
    std::env::remove_var(TENANTS_FILE_VARIABLE);
    let emu = emu.expect("emulator with a fleet");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();

    let listed: Value = http
        .get(format!("{}/_emulator/tenants", emu.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tenants = listed["tenants"].as_array().unwrap();
    assert_eq!(tenants.len(), 5, "{listed}");
    assert_eq!(tenants[2]["domain"], "22222222.onmicrosoft.com");
    assert_eq!(tenants[2]["products"], 12);
    assert_eq!(tenants[2]["disabled"], 12);
    assert_eq!(tenants[3]["enabled"], 26);
    assert_eq!(tenants[4]["disabled"], 26);
    assert_eq!(listed["partner"]["appClientId"], PARTNER_APP.client_id);

    // Consented: a token for that tenant, with the app's role.
    let secret = "emulator-partner-secret";
    let (status, body) = app_grant(&http, &emu, "A.EXAMPLE.COM", secret).await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().unwrap();
    let claims = mscommerce::auth::jwt::claims(access).unwrap();
    assert_eq!(
        claims.tid.as_deref(),
        Some("22222222-0000-4000-8000-000000000001")
    );
    // Its products are that tenant's: read, and written through the
    // control endpoint.
    let products: Value = http
        .get(format!(
            "{}/v1.0/policies/AllowSelfServicePurchase/products?scope=product",
            emu.url()
        ))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(products["items"].as_array().unwrap().len(), 26);
    let status = control_post(
        &http,
        &emu,
        "/_emulator/tenants/a.example.com/products",
        json!({"productId": "CFQ7TTC0LH2H", "policyValue": "Disabled"}),
    )
    .await;
    assert_eq!(status, 200);
    let a = emu.tenant_products("a.example.com").unwrap();
    assert_eq!(a.iter().filter(|p| p.policy_value == "Disabled").count(), 1);
    // The built-in tenant is not the fleet's.
    assert!(emu.products().iter().all(|p| p.policy_value == "Enabled"));

    // A wrong secret, as the platform says it.
    let (status, body) = app_grant(&http, &emu, "a.example.com", "nope").await;
    assert_refused(status, &body, 401, "invalid_client", 7000215);
    // Not consented: AADSTS700016, naming the tenant's domain.
    let (status, body) = app_grant(&http, &emu, "b.example.com", secret).await;
    assert_refused(status, &body, 400, "unauthorized_client", 700016);
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("was not found in the directory 'b.example.com'"));
    // No service principal any more: AADSTS7000229.
    let (status, body) =
        app_grant(&http, &emu, "22222222-0000-4000-8000-000000000003", secret).await;
    assert_refused(status, &body, 400, "invalid_client", 7000229);
    // Not a tenant: AADSTS90002.
    let (status, body) = app_grant(&http, &emu, "nowhere.example.com", secret).await;
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (400, Some(90002))
    );

    // The partner admin's refresh token at a customer tenant: a token for
    // that tenant (no role where it has no access), and a new refresh token.
    let (status, body) = module_grant(
        &http,
        &emu,
        "organizations",
        "password",
        &[
            ("username", PARTNER_USER.upn),
            ("password", PARTNER_USER.password),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let home = mscommerce::auth::jwt::claims(body["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(
        home.tid.as_deref(),
        Some(mscommerce::emulator::directory::PARTNER_TENANT_ID)
    );
    let mut rt = body["refresh_token"].as_str().unwrap().to_string();
    for (tenant, status_of_listing) in [("a.example.com", 200), ("b.example.com", 403)] {
        let (status, body) = module_grant(
            &http,
            &emu,
            tenant,
            "refresh_token",
            &[("refresh_token", &rt)],
        )
        .await;
        assert_eq!(status, 200, "{tenant}: {body}");
        rt = body["refresh_token"].as_str().unwrap().to_string();
        let r = http
            .get(format!("{}/v1.0/policies", emu.url()))
            .bearer_auth(body["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status_of_listing, "{tenant}");
    }
    // A user of another directory has no account there (AADSTS50020).
    let (_, body) = module_grant(
        &http,
        &emu,
        "organizations",
        "password",
        &[
            ("username", "admin@contoso.onmicrosoft.com"),
            ("password", "Emulator-Admin-1"),
        ],
    )
    .await;
    let contoso_rt = body["refresh_token"].as_str().unwrap().to_string();
    let (status, body) = module_grant(
        &http,
        &emu,
        "a.example.com",
        "refresh_token",
        &[("refresh_token", &contoso_rt)],
    )
    .await;
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (400, Some(50020))
    );

    // Replaced by POST; a reset rebuilds the fleet as configured.
    let status = control_post(
        &http,
        &emu,
        "/_emulator/tenants",
        json!({"generate": {"count": 3, "drifted": 3}}),
    )
    .await;
    assert_eq!(status, 200);
    let status = control_post(
        &http,
        &emu,
        "/_emulator/tenants",
        json!({"tenants": [{"tenantId": "not-a-guid"}]}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(emu.tenant_products("a.example.com").is_none());
    assert_eq!(
        emu.tenant_products("tenant0003.onmicrosoft.com")
            .unwrap()
            .len(),
        26
    );
}
