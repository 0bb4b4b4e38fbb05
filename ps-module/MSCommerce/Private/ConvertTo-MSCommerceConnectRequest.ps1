# Connect-MSCommerce's parameters -> the connect request of the C ABI (native-abi.md). Only bound
# parameters are sent: defaults, validation and normalisation (e.g. a bare resource app id versus
# its /.default scope) live in the native library.

# Parameter set -> flow.
$script:MSCommerceConnectFlows = @{
    Interactive              = 'interactive'
    DeviceCode               = 'deviceCode'
    Credential               = 'password'
    AppSecret                = 'clientSecret'
    AppCertificateThumbprint = 'certificate'
    AppCertificateFile       = 'certificate'
    Identity                 = 'managedIdentity'
    AccessToken              = 'accessToken'
}

# Plain parameters -> request fields.
$script:MSCommerceConnectFields = @{
    ClientId              = 'clientId'
    TenantId              = 'tenantId'
    LoginHint             = 'loginHint'
    Resource              = 'scope'
    CertificateThumbprint = 'certificateThumbprint'
    Environment           = 'environment'
    ServiceUrl            = 'serviceUrl'
    AuthorityHost         = 'authorityHost'
}

function script:ConvertFrom-MSCommerceSecureString {
    <#
    .SYNOPSIS
    The plain text of a SecureString (works on .NET Framework and .NET; the BSTR is zeroed).
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]
        [System.Security.SecureString] $SecureString
    )

    $bstr = [System.Runtime.InteropServices.Marshal]::SecureStringToBSTR($SecureString)
    try {
        [System.Runtime.InteropServices.Marshal]::PtrToStringBSTR($bstr)
    }
    finally {
        [System.Runtime.InteropServices.Marshal]::ZeroFreeBSTR($bstr)
    }
}

function script:ConvertTo-MSCommerceConnectRequest {
    <#
    .SYNOPSIS
    Builds the connect request hashtable for Connect-MSCommerce's parameter set and bound parameters.
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory = $true)]
        [System.Management.Automation.PSCmdlet] $Caller,

        [Parameter(Mandatory = $true)]
        [System.Collections.IDictionary] $BoundParameters
    )

    # $PSBoundParameters is a Dictionary[string, object]: its IDictionary.Contains is an explicit
    # interface member that PowerShell cannot call (5.1 and 7 alike: "does not contain a method
    # named 'Contains'" / "Cannot find an overload"), so membership is tested on the key list.
    $bound = @($BoundParameters.Keys)

    $setName = $Caller.ParameterSetName
    $flow = $script:MSCommerceConnectFlows[$setName]
    if ($null -eq $flow) {
        $flow = 'interactive'
    }
    # What PowerShell sees of the library's variables (proxies, managed identity): $env: changes
    # made in this session reach the library on every OS (Private/Environment.ps1).
    $request = @{ flow = $flow; environmentVariables = (Get-MSCommerceEnvironmentSnapshot) }
    if ($flow -eq 'interactive' -or $flow -eq 'deviceCode') {
        $request['step'] = 'start'
    }

    foreach ($parameter in $script:MSCommerceConnectFields.Keys) {
        if ($bound -contains $parameter) {
            $request[$script:MSCommerceConnectFields[$parameter]] = [string]$BoundParameters[$parameter]
        }
    }

    if ($bound -contains 'RedirectUri' -and $null -ne $BoundParameters['RedirectUri']) {
        $request['redirectUri'] = ([uri]$BoundParameters['RedirectUri']).OriginalString
    }

    if ($bound -contains 'Credential') {
        $credential = [System.Management.Automation.PSCredential]$BoundParameters['Credential']
        $request['username'] = $credential.UserName
        $request['password'] = ConvertFrom-MSCommerceSecureString -SecureString $credential.Password
    }

    if ($bound -contains 'ClientSecretCredential') {
        $credential = [System.Management.Automation.PSCredential]$BoundParameters['ClientSecretCredential']
        $request['clientId'] = $credential.UserName
        $request['clientSecret'] = ConvertFrom-MSCommerceSecureString -SecureString $credential.Password
    }

    if ($bound -contains 'CertificatePath') {
        $request['certificatePath'] = $Caller.GetUnresolvedProviderPathFromPSPath([string]$BoundParameters['CertificatePath'])
    }

    if ($bound -contains 'CertificatePassword' -and $null -ne $BoundParameters['CertificatePassword']) {
        $request['certificatePassword'] = ConvertFrom-MSCommerceSecureString -SecureString $BoundParameters['CertificatePassword']
    }

    if ($bound -contains 'AccessToken') {
        $token = $BoundParameters['AccessToken']
        if ($token -is [System.Management.Automation.PSObject]) {
            $token = $token.PSObject.BaseObject
        }
        if ($token -is [System.Security.SecureString]) {
            $request['accessToken'] = ConvertFrom-MSCommerceSecureString -SecureString $token
        }
        else {
            $request['accessToken'] = [string]$token
        }
    }

    $request
}
