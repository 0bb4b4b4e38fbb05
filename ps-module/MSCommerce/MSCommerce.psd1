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
        'Get-MSCommerceConnectionInfo',
        'Get-MSCommercePolicies',
        'Get-MSCommercePolicy',
        'Get-MSCommerceProductPolicies',
        'Get-MSCommerceProductPolicy',
        'Update-MSCommerceProductPolicy'
    )
    CmdletsToExport      = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    FormatsToProcess     = @('MSCommerce.format.ps1xml')
    PrivateData          = @{
        PSData = @{
            Tags       = @('MSCommerce', 'SelfServicePurchase', 'AllowSelfServicePurchase', 'Microsoft365', 'Licensing', 'PSEdition_Desktop', 'PSEdition_Core', 'Windows', 'Linux', 'MacOS')
            LicenseUri = 'https://opensource.org/licenses/MIT'
        }
    }
}
