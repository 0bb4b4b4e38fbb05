# MSCommerce: a drop-in rebuild of Microsoft's MSCommerce module over a native core (Rust, C ABI).
# The functions are thin: each is its parameter block and one call to the private dispatcher
# Invoke-MSCommerceNative (Private/Invoke-MSCommerceNative.ps1), after taking the caller's preference
# variables (Private/CallerPreference.ps1); the work is in the native library.

# Answers leave out fields that do not apply, and reading an absent property must give $null, also
# when the caller has turned on Set-StrictMode globally (the module's scope inherits the global
# scope's strict mode unless it sets its own).
Set-StrictMode -Off

# What the import runs (Private/Import.ps1 says why so little): locating the native library, taking
# the caller's preferences, the argument completers, and the public functions.
$importScripts = @(
    'Import.ps1',
    'CallerPreference.ps1',
    'Register-MSCommerceArgumentCompleters.ps1'
)
# Loaded by the first call of a public function (Import-MSCommercePrivateScript).
$script:MSCommercePrivateScripts = @(
    'Native.ps1',
    'Environment.ps1',
    'Answer.ps1',
    'ErrorRecord.ps1',
    'Output.ps1',
    'SignIn.ps1',
    'Invoke-MSCommerceNative.ps1',
    'Bulk.ps1',
    'Baseline.ps1',
    'Fleet.ps1',
    'ConvertTo-MSCommerceConnectRequest.ps1'
)
$script:MSCommercePrivateScriptsLoaded = $false
$publicScripts = @(
    'Connect-MSCommerce.ps1',
    'Disconnect-MSCommerce.ps1',
    'Export-MSCommerceBaseline.ps1',
    'Get-MSCommerceConnectionInfo.ps1',
    'Get-MSCommercePolicies.ps1',
    'Get-MSCommercePolicy.ps1',
    'Get-MSCommerceProductPolicies.ps1',
    'Get-MSCommerceProductPolicy.ps1',
    'Sync-MSCommerceBaseline.ps1',
    'Test-MSCommerceBaseline.ps1',
    'Update-MSCommerceProductPolicy.ps1'
)

foreach ($scriptName in $importScripts) {
    . ([System.IO.Path]::Combine($PSScriptRoot, 'Private', $scriptName))
}
foreach ($scriptName in $publicScripts) {
    . ([System.IO.Path]::Combine($PSScriptRoot, 'Public', $scriptName))
}

# Finds the native library now; loads it, and opens this runspace's native session, at first use.
Initialize-MSCommerceNative -ModuleRoot $PSScriptRoot

# One native session per runspace: freed when the module is removed.
$ExecutionContext.SessionState.Module.OnRemove = {
    $session = $script:MSCommerceSession
    $script:MSCommerceSessionClosed = $true
    $script:MSCommerceSession = $null
    if ($null -ne $session) {
        $session.Dispose()
    }
}

Register-MSCommerceArgumentCompleters

Export-ModuleMember -Function @(
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
