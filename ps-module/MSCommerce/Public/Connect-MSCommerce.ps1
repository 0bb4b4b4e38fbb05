function Connect-MSCommerce {
    <#
    .SYNOPSIS
    Connects the current PowerShell session to the MSCommerce (self-service purchase) service.

    .DESCRIPTION
    Connect-MSCommerce signs in to Microsoft Entra ID (Azure Active Directory) and keeps the sign-in
    for the other MSCommerce cmdlets of this PowerShell session. Run it once before
    Get-MSCommercePolicies, Get-MSCommercePolicy, Get-MSCommerceProductPolicies,
    Get-MSCommerceProductPolicy and Update-MSCommerceProductPolicy, or pass -Token to each of them.

    Without parameters it signs in interactively: it opens the system browser (authorization code
    with PKCE and a loopback redirect), so multi-factor authentication and conditional access work,
    on Windows PowerShell 5.1 and on PowerShell 7 on Windows, Linux and macOS. Other sign-in modes:
    device code (-UseDeviceCode), user name and password (-Credential, also -AdminAccount),
    app secret (-ClientSecretCredential), app certificate (-CertificateThumbprint or
    -CertificatePath), managed identity (-Identity) and an existing access token (-AccessToken).

    The signed-in account needs the Global administrator or Billing administrator role to change
    policies; a Global reader can only read them. Tokens are refreshed silently where the sign-in
    allows it. On success it writes "Connection established successfully" to the host; it writes
    nothing to the output. Get-MSCommerceConnectionInfo shows the connection.

    .PARAMETER ClientId
    The application (client) id to sign in with. Interactive sign-in defaults to the MSCommerce
    module's public client id, 3d5cffa9-04da-4657-8cab-c7f074657cad. For device code and user name
    and password sign-in, pass an app registration of your tenant that allows them. With -Identity,
    the client id of a user-assigned managed identity. Required with a certificate.

    .PARAMETER RedirectUri
    The redirect URI of the interactive sign-in; default http://localhost/m365/commerce. A loopback
    address listens on a free port on this computer.

    .PARAMETER Resource
    The resource to request a token for: the LicenseManager app id
    aeb86249-8ea3-49e2-900b-54cc8e308f85 (as in MSCommerce 1.x) or its scope
    aeb86249-8ea3-49e2-900b-54cc8e308f85/.default (as in 2.x, the default); both are accepted.

    .PARAMETER TenantId
    The tenant: its id or a domain such as contoso.onmicrosoft.com. Required for app sign-in
    (secret or certificate); otherwise the organizations endpoint is used.

    .PARAMETER LoginHint
    The user name to pre-fill in the browser sign-in.

    .PARAMETER UseDeviceCode
    Signs in with the device-code flow: shows a code and an address to enter it at, on any device,
    then waits until the sign-in is finished. Ctrl+C cancels. Aliases: UseDeviceAuthentication,
    DeviceCode.

    .PARAMETER Credential
    A user name and password (PSCredential) for sign-in without a browser. Accounts with
    multi-factor authentication cannot use it. Alias: AdminAccount (MSCommerce 1.x).

    .PARAMETER ClientSecretCredential
    App sign-in with a client secret: a PSCredential whose user name is the application (client) id
    and whose password is the secret. Needs -TenantId.

    .PARAMETER CertificateThumbprint
    App sign-in with a certificate from the Windows certificate store (CurrentUser or LocalMachine,
    My), by thumbprint. Needs -TenantId and -ClientId.

    .PARAMETER CertificatePath
    App sign-in with a certificate file (PFX or PEM with its private key). Needs -TenantId and
    -ClientId.

    .PARAMETER CertificatePassword
    The password of the certificate file, as a SecureString.

    .PARAMETER Identity
    Signs in with the managed identity of the Azure resource this runs on (system-assigned, or
    user-assigned with -ClientId). Aliases: ManagedIdentity, MSI.

    .PARAMETER AccessToken
    An access token for the LicenseManager resource obtained elsewhere, as a SecureString or a
    string. It is used until it expires; it is not refreshed.

    .PARAMETER Environment
    The cloud: AzureCloud (default), AzureUSGovernment or AzureUSGovernmentDoD. It picks the sign-in
    authority. Alias: EnvironmentName.

    .PARAMETER ServiceUrl
    The base URL of the licensing service; default https://licensing.m365.microsoft.com. For custom
    clouds and for the emulator (mscommerce emulator).

    .PARAMETER AuthorityHost
    The sign-in authority host, e.g. https://login.microsoftonline.com. For custom clouds and for the
    emulator.

    .EXAMPLE
    Connect-MSCommerce

    Connects the current PowerShell session to an Azure Active Directory tenant, signing in with
    your account in the browser. Multi-factor authentication works.

    .EXAMPLE
    Import-Module -Name MSCommerce
    Connect-MSCommerce #sign-in with your global or billing administrator account when prompted
    $product = Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | where {$_.ProductName -match 'Power Automate'}
    Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId $product.ProductID -Enabled $false

    Imports the module, signs in, gets the ProductId of Power Automate and disables
    AllowSelfServicePurchase for it.

    .EXAMPLE
    Connect-MSCommerce -UseDeviceCode -TenantId contoso.onmicrosoft.com -ClientId 00000000-0000-0000-0000-000000000000

    Signs in with a device code, for a computer without a browser: open the address shown, enter the
    code and sign in there.

    .EXAMPLE
    Connect-MSCommerce -Credential (Get-Credential admin@contoso.onmicrosoft.com) -ClientId 00000000-0000-0000-0000-000000000000

    Signs in with a user name and password, without a browser.

    .EXAMPLE
    $secret = Get-Credential -UserName '00000000-0000-0000-0000-000000000000' -Message 'Client secret'
    Connect-MSCommerce -TenantId contoso.onmicrosoft.com -ClientSecretCredential $secret

    Signs in as an application with a client secret, for unattended scripts.

    .EXAMPLE
    Connect-MSCommerce -TenantId contoso.onmicrosoft.com -ClientId 00000000-0000-0000-0000-000000000000 -CertificateThumbprint 0123456789ABCDEF0123456789ABCDEF01234567

    Signs in as an application with a certificate from the Windows certificate store.

    .EXAMPLE
    Connect-MSCommerce -TenantId contoso.onmicrosoft.com -ClientId 00000000-0000-0000-0000-000000000000 -CertificatePath ./app.pfx -CertificatePassword (Read-Host -AsSecureString)

    Signs in as an application with a certificate file.

    .EXAMPLE
    Connect-MSCommerce -Identity

    Signs in with the managed identity of the Azure VM, Automation account or Function this runs on.

    .EXAMPLE
    Connect-MSCommerce -AccessToken $token

    Uses an access token obtained elsewhere.

    .EXAMPLE
    Connect-MSCommerce -ServiceUrl http://127.0.0.1:8400 -AuthorityHost http://127.0.0.1:8400 -TenantId contoso.onmicrosoft.com -Credential (Get-Credential admin@contoso.onmicrosoft.com)

    Connects to the emulator started with 'mscommerce emulator --port 8400', to try scripts without
    touching a real tenant.

    .INPUTS
    None.

    .OUTPUTS
    None. The success message goes to the host.

    .LINK
    Disconnect-MSCommerce

    .LINK
    Get-MSCommerceConnectionInfo

    .LINK
    about_MSCommerce
    #>
    [CmdletBinding(DefaultParameterSetName = 'Interactive')]
    [OutputType([void])]
    param(
        [Parameter(ParameterSetName = 'Interactive', Position = 0)]
        [Parameter(ParameterSetName = 'DeviceCode')]
        [Parameter(ParameterSetName = 'Credential')]
        [Parameter(ParameterSetName = 'AppCertificateThumbprint', Mandatory = $true)]
        [Parameter(ParameterSetName = 'AppCertificateFile', Mandatory = $true)]
        [Parameter(ParameterSetName = 'Identity')]
        [string] $ClientId = '3d5cffa9-04da-4657-8cab-c7f074657cad',

        [Parameter(ParameterSetName = 'Interactive', Position = 1)]
        [uri] $RedirectUri = 'http://localhost/m365/commerce',

        [Parameter(ParameterSetName = 'Interactive', Position = 2)]
        [string] $Resource = 'aeb86249-8ea3-49e2-900b-54cc8e308f85/.default',

        [Parameter(ParameterSetName = 'Interactive')]
        [Parameter(ParameterSetName = 'DeviceCode')]
        [Parameter(ParameterSetName = 'Credential')]
        [Parameter(ParameterSetName = 'AppSecret', Mandatory = $true)]
        [Parameter(ParameterSetName = 'AppCertificateThumbprint', Mandatory = $true)]
        [Parameter(ParameterSetName = 'AppCertificateFile', Mandatory = $true)]
        [string] $TenantId,

        [Parameter(ParameterSetName = 'Interactive')]
        [string] $LoginHint,

        [Parameter(ParameterSetName = 'DeviceCode', Mandatory = $true)]
        [Alias('UseDeviceAuthentication', 'DeviceCode')]
        [switch] $UseDeviceCode,

        [Parameter(ParameterSetName = 'Credential', Mandatory = $true)]
        [Alias('AdminAccount')]
        [System.Management.Automation.PSCredential]
        [System.Management.Automation.Credential()]
        $Credential,

        [Parameter(ParameterSetName = 'AppSecret', Mandatory = $true)]
        [System.Management.Automation.PSCredential]
        [System.Management.Automation.Credential()]
        $ClientSecretCredential,

        [Parameter(ParameterSetName = 'AppCertificateThumbprint', Mandatory = $true)]
        [string] $CertificateThumbprint,

        [Parameter(ParameterSetName = 'AppCertificateFile', Mandatory = $true)]
        [string] $CertificatePath,

        [Parameter(ParameterSetName = 'AppCertificateFile')]
        [System.Security.SecureString] $CertificatePassword,

        [Parameter(ParameterSetName = 'Identity', Mandatory = $true)]
        [Alias('ManagedIdentity', 'MSI')]
        [switch] $Identity,

        [Parameter(ParameterSetName = 'AccessToken', Mandatory = $true)]
        [object] $AccessToken,

        [Parameter()]
        [Alias('EnvironmentName')]
        [ValidateSet('AzureCloud', 'AzureUSGovernment', 'AzureUSGovernmentDoD')]
        [string] $Environment,

        [Parameter()]
        [string] $ServiceUrl,

        [Parameter()]
        [string] $AuthorityHost
    )

    Use-MSCommerceCallerPreference -Cmdlet $PSCmdlet
    Invoke-MSCommerceNative -Caller $PSCmdlet -Operation connect -Request (ConvertTo-MSCommerceConnectRequest -Caller $PSCmdlet -BoundParameters $PSBoundParameters)
}
