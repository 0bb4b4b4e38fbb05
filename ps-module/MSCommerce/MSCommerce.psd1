@{
    RootModule           = 'MSCommerce.psm1'
    # Above Microsoft's MSCommerce 1.x-3.x, so scripts that require 2.0 accept it and this module wins
    # when both are installed in one folder (about_MSCommerce, BESIDE MICROSOFT'S MODULE).
    ModuleVersion        = '4.0.0'
    GUID                 = 'cbaba3d7-3c4b-4a8b-91aa-72d1410cb00c'
    Author               = 'MSCommerce-rs contributors'
    CompanyName          = 'MSCommerce-rs'
    Copyright            = '(c) MSCommerce-rs contributors. MIT License.'
    Description          = 'Manage self-service purchase (AllowSelfServicePurchase) policies of Microsoft 365 products: a drop-in, cross-platform rebuild of the MSCommerce module on a native core, for Windows PowerShell 5.1 and PowerShell 7 on Windows, Linux and macOS.'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    FunctionsToExport    = @(
        'Connect-MSCommerce',
        'Disconnect-MSCommerce',
        'Export-MSCommerceBaseline',
        'Get-MSCommerceConnectionInfo',
        'Get-MSCommercePolicies',
        'Get-MSCommercePolicy',
        'Get-MSCommerceProductPolicies',
        'Get-MSCommerceProductPolicy',
        'Sync-MSCommerceBaseline',
        'Test-MSCommerceBaseline',
        'Update-MSCommerceProductPolicy'
    )
    CmdletsToExport      = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    FormatsToProcess     = @('MSCommerce.format.ps1xml')
    # Every file of the module folder but the shim's source (src/, compiled only in a source checkout
    # without bin/). `build.sh package` (tools/package.ps1) fails on a file that is in neither, and
    # completes the packaged manifest's FileList with bin/MSCommerce.Native.dll and the libraries in
    # runtimes/<rid>/native/, which a source checkout has only once built.
    FileList             = @(
        'MSCommerce.psd1',
        'MSCommerce.psm1',
        'MSCommerce.format.ps1xml',
        'en-US/about_MSCommerce.help.txt',
        'Private/Answer.ps1',
        'Private/Baseline.ps1',
        'Private/Bulk.ps1',
        'Private/CallerPreference.ps1',
        'Private/ConvertTo-MSCommerceConnectRequest.ps1',
        'Private/Environment.ps1',
        'Private/ErrorRecord.ps1',
        'Private/Fleet.ps1',
        'Private/Import.ps1',
        'Private/Invoke-MSCommerceNative.ps1',
        'Private/Native.ps1',
        'Private/Output.ps1',
        'Private/Register-MSCommerceArgumentCompleters.ps1',
        'Private/SignIn.ps1',
        'Public/Connect-MSCommerce.ps1',
        'Public/Disconnect-MSCommerce.ps1',
        'Public/Export-MSCommerceBaseline.ps1',
        'Public/Get-MSCommerceConnectionInfo.ps1',
        'Public/Get-MSCommercePolicies.ps1',
        'Public/Get-MSCommercePolicy.ps1',
        'Public/Get-MSCommerceProductPolicies.ps1',
        'Public/Get-MSCommerceProductPolicy.ps1',
        'Public/Sync-MSCommerceBaseline.ps1',
        'Public/Test-MSCommerceBaseline.ps1',
        'Public/Update-MSCommerceProductPolicy.ps1'
    )
    PrivateData          = @{
        PSData = @{
            # The package has libraries for Windows (x64, x86) and Linux (x64, arm64); none for macOS,
            # which `./build.sh` on a Mac builds (README), hence no MacOS tag.
            Tags         = @('MSCommerce', 'SelfServicePurchase', 'AllowSelfServicePurchase', 'Microsoft365', 'Licensing', 'PSEdition_Desktop', 'PSEdition_Core', 'Windows', 'Linux')
            LicenseUri   = 'https://opensource.org/licenses/MIT'
            # ProjectUri: the project has no public address yet; set it here before publishing to a
            # gallery (tools/package.ps1 says so while it is missing).
            ReleaseNotes = @'
4.0.0: the first release of this rebuild. The commands and parameters of Microsoft's MSCommerce
module (Connect-MSCommerce, Get-MSCommercePolicies, Get-MSCommercePolicy,
Get-MSCommerceProductPolicies, Get-MSCommerceProductPolicy, Update-MSCommerceProductPolicy,
Disconnect-MSCommerce) plus Get-MSCommerceConnectionInfo, on a native core: Windows PowerShell 5.1
and PowerShell 7 on Windows 10/11 and Windows Server 2016+ (x64, x86) and on Linux with glibc 2.28+
(x64, arm64). Unattended sign-in (client secret, certificate, managed identity), tokens renewed
before they expire, TLS 1.2+, retries of throttled and failed requests, errors with the HTTP status
and correlation id. Version 4.0.0 so that scripts requiring MSCommerce 2.0 accept it
(Get-Help about_MSCommerce).
Bulk changes and baselines: Update-MSCommerceProductPolicy with several products (or fed from
Get-MSCommerceProductPolicies) is one bulk change, written several at a time (-ThrottleLimit) with
a progress bar, only the products that differ, verified afterwards, each product reported with
PreviousValue and Status (a failed one as an error, the others still done); -WhatIf lists what would
change. Export-MSCommerceBaseline, Test-MSCommerceBaseline and Sync-MSCommerceBaseline save the
tenant's values to a file, report drift from it and apply it; with "OtherProducts": "Disabled" on a
schedule they keep self-service purchase off for products Microsoft adds later (examples/guard).
'@
        }
    }
}
