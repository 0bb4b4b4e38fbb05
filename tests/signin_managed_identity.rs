//! Managed identity through the library: App Service / Automation style
//! (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`) and the VM's IMDS (reached
//! through the emulator acting as the session's proxy), system- and
//! user-assigned. One test: the credential reads the process environment,
//! which no other test of this binary may change at the same time.
#![cfg(feature = "emulator")]

mod signin_support;

use mscommerce::emulator::directory::{MANAGED_IDENTITIES, MANAGED_IDENTITY_HEADER};
use mscommerce::{ErrorKind, Session};
use serde_json::json;
use signin_support::*;

#[tokio::test]
async fn managed_identity_app_service_and_imds() {
    let (emu, dir, s) = setup(false, 3600);
    let endpoint = format!("{}/msi/token", emu.url());
    std::env::set_var("IDENTITY_ENDPOINT", &endpoint);
    std::env::set_var("IDENTITY_HEADER", MANAGED_IDENTITY_HEADER);

    let (r, log) = connect_logged(&s, json!({"flow": "managedIdentity"})).await;
    let info = r.unwrap();
    assert_eq!(info["Flow"], "ManagedIdentity");
    assert_eq!(info["Account"], MANAGED_IDENTITIES[0].client_id);
    assert!(log.iter().any(|l| l.contains(&endpoint)), "{log:?}");
    // The system-assigned identity is a billing administrator.
    let v = update(
        &s,
        json!({"policyId": "AllowSelfServicePurchase", "productId": PRODUCT, "value": "Disabled"}),
    )
    .await
    .unwrap();
    assert_eq!(v["PolicyValue"], "Disabled");

    // The user-assigned one only reads.
    let user_assigned = MANAGED_IDENTITIES[1].client_id;
    let info = connect(
        &s,
        json!({"flow": "managedIdentity", "clientId": user_assigned}),
    )
    .await
    .unwrap();
    assert_eq!(info["Account"], user_assigned);
    works(&s).await;
    let e = update(
        &s,
        json!({"policyId": "AllowSelfServicePurchase", "productId": PRODUCT, "value": "Enabled"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Forbidden, "{e}");

    // An identity the resource does not have; a wrong IDENTITY_HEADER.
    let r = connect(
        &s,
        json!({"flow": "managedIdentity", "clientId": "00000000-0000-0000-0000-00000000abcd"}),
    )
    .await;
    assert_auth(r, "ManagedIdentityCredential");
    std::env::set_var("IDENTITY_HEADER", "not-the-header");
    let e = connect(&s, json!({"flow": "managedIdentity"}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Authentication, "{e}");
    assert_eq!(e.http_status, Some(401), "{e}");

    // IMDS: no IDENTITY_ENDPOINT; the emulator serves as the proxy to it.
    std::env::remove_var("IDENTITY_ENDPOINT");
    std::env::remove_var("IDENTITY_HEADER");
    let s =
        Session::new(&options(&emu, dir.path(), json!({"proxy": emu.url()})).to_string()).unwrap();
    let (r, log) = connect_logged(&s, json!({"flow": "managedIdentity"})).await;
    assert_eq!(r.unwrap()["Account"], MANAGED_IDENTITIES[0].client_id);
    assert!(log.iter().any(|l| l.contains("IMDS")), "{log:?}");
    works(&s).await;
}
