# On Linux and macOS, .NET keeps `$env:NAME = ...` to itself: the native library's own view of the
# environment never sees it (on Windows both share one). So each session and each connect passes
# the library what PowerShell sees of the variables the library reads, and the library uses that
# snapshot in place of its own environment.

# The variables the native library reads (proxies, managed identity, TLS trust, its own settings).
$script:MSCommerceEnvironmentPattern = '^(?:(?:HTTPS?|ALL|NO)_PROXY|IDENTITY_\w+|MSI_\w+|IMDS_\w+|MSCOMMERCE_\w+|AZURE_\w+|SSL_CERT_(?:FILE|DIR)|REQUEST_METHOD)$'

function script:Get-MSCommerceEnvironmentSnapshot {
    <#
    .SYNOPSIS
    The library's variables as PowerShell sees them, by name (in any case: on Linux HTTP_PROXY and
    http_proxy are two variables, so the dictionary compares names ordinally, unlike a hashtable).
    #>
    [CmdletBinding()]
    param()

    # The shim's compiled loop (the same loop in PowerShell costs ~30 ms of JIT in a fresh process).
    $null = Import-MSCommerceNative
    # The comma keeps PowerShell from enumerating the dictionary into its entries.
    , [MSCommerce.Native.ProcessEnvironment]::Snapshot($script:MSCommerceEnvironmentPattern)
}
