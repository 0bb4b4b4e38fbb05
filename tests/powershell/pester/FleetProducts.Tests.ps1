#Requires -Version 5.1
# Many tenants with the product cmdlets (issue 11, docs/fleet.md section 6): -TenantId on
# Get-MSCommerceProductPolicies, Get-MSCommerceProductPolicy, Update-MSCommerceProductPolicy (several
# tenants: a fleet run), and on Get-MSCommercePolicies, Get-MSCommercePolicy and
# Export-MSCommerceBaseline (one customer tenant), against the TLS emulator's customer tenants
# (FleetSupport.ps1). Every write is read back from the emulator's control API.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSupport.ps1')
    . (Join-Path $PSScriptRoot 'FleetSupport.ps1')

    # The product changed in the tests (Enabled in alpha, Disabled in bravo).
    $script:Product = 'CFQ7TTC0KP0P'

    # Alpha with one product Disabled (the others Enabled), so that its listing is its own.
    function Set-AlphaProduct([string] $Value) {
        $null = Invoke-TlsEmulator -Method Post -Path "/_emulator/tenants/$($script:Alpha)/products" -Body @{ productId = $script:Product; policyValue = $Value }
    }

    # A tenant's values, the one product first: "<product value> / <how many others Enabled> / <writes>".
    function Get-TenantSummary([string] $Tenant) {
        $state = Read-Tenant $Tenant
        $others = @($state.Values.Keys | Where-Object { $_ -ne $script:Product -and $state.Values[$_] -eq 'Enabled' })
        '{0} / {1} others Enabled / {2} writes' -f $state.Values[$script:Product], $others.Count, $state.Writes
    }

    # Rows by tenant and status, sorted: "<tenant> <count> <status>".
    function Get-StatusLine([object[]] $Rows) {
        $Rows | Group-Object -Property TenantId, Status | ForEach-Object { '{0} {1} {2}' -f $_.Group[0].TenantId, $_.Count, $_.Group[0].Status } | Sort-Object
    }
}

AfterAll {
    Stop-FleetTest
}

Describe 'Get-MSCommerceProductPolicies -TenantId (the partner app''s secret at the partner tenant)' {
    BeforeEach {
        Start-FleetTest -SignIn Connect-PartnerApp
    }

    It 'lists each reachable tenant''s products with its TenantId; the not-consented and the forbidden tenant are errors of their own' {
        if ($script:FleetProblem) { return }
        Set-AlphaProduct 'Disabled'
        $all = @($script:Alpha, $script:Bravo, $script:Charlie, $script:Echo)
        $rows = @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase -TenantId $all -ErrorAction SilentlyContinue -ErrorVariable failed)

        @($rows | ForEach-Object { $_.TenantId } | Select-Object -Unique) | Should -Be @($script:Alpha, $script:Bravo)
        $alpha = @($rows | Where-Object TenantId -eq $script:Alpha)
        $alpha | Should -HaveCount 12
        @($alpha | Where-Object PolicyValue -eq 'Disabled' | ForEach-Object { $_.ProductId }) | Should -Be @($script:Product)
        $bravo = @($rows | Where-Object TenantId -eq $script:Bravo)
        $bravo | Should -HaveCount 12
        @($bravo | Where-Object PolicyValue -ne 'Disabled') | Should -HaveCount 0
        @($rows[0].PSObject.TypeNames)[0..2] | Should -Be @('MSCommerce.TenantProductPolicy#Listing', 'MSCommerce.TenantProductPolicy', 'MSCommerce.ProductPolicy')
        ($rows | Out-String -Width 200) | Should -Match 'TenantId\s+PolicyValue\s+ProductId\s+PolicyId\s+ProductName'
        @($rows[0].PSObject.Properties.Name)[0] | Should -Be 'TenantId'
        $rows[0].PolicyId | Should -Be 'AllowSelfServicePurchase'

        @($failed) | Should -HaveCount 2
        Assert-TenantError $failed $script:Charlie 'NotConsented' 'PermissionDenied' 'Get-MSCommerceProductPolicies' 'AADSTS700016'
        Assert-TenantError $failed $script:Echo 'Forbidden' 'PermissionDenied' 'Get-MSCommerceProductPolicies' 'HTTP 403'
        Get-Updates | Should -Be 0
    }

    It 'one -TenantId lists that customer (not the partner''s own tenant) as a single-tenant listing; -TenantThrottleLimit is checked' {
        if ($script:FleetProblem) { return }
        Set-AlphaProduct 'Disabled'
        $alpha = @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase -TenantId $script:Alpha)
        $alpha | Should -HaveCount 12
        @($alpha | Where-Object PolicyValue -eq 'Disabled' | ForEach-Object { $_.ProductId }) | Should -Be @($script:Product)
        $alpha[0].PSObject.TypeNames[0] | Should -Be 'MSCommerce.ProductPolicy'
        $alpha[0].PSObject.Properties.Name | Should -Not -Contain 'TenantId'
        # The partner's own tenant (the connection's) has no products for the app: HTTP 403.
        { Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase -ErrorAction Stop } | Should -Throw '*HTTP 403*'
        $bravo = @(Get-MSCommerceProductPolicies AllowSelfServicePurchase -TenantId $script:Bravo)
        @($bravo | Where-Object PolicyValue -ne 'Disabled') | Should -HaveCount 0
        # A tenant the app cannot reach: the single call's error, not a tenant's.
        { Get-MSCommerceProductPolicies AllowSelfServicePurchase -TenantId $script:Charlie -ErrorAction Stop } | Should -Throw '*AADSTS700016*'
        { Get-MSCommerceProductPolicies AllowSelfServicePurchase -TenantId $script:Alpha, $script:Bravo -TenantThrottleLimit 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,Get-MSCommerceProductPolicies'
        $verbose = @(Get-MSCommerceProductPolicies AllowSelfServicePurchase -TenantId $script:Alpha, $script:Bravo -TenantThrottleLimit 1 -Verbose 4>&1 |
                Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object { $_.Message })
        $verbose | Should -Contain 'fleet: 2 tenants, 2 succeeded, 0 failed, 0 drifted, tenantConcurrency 1'
    }
}

Describe 'Get-MSCommerceProductPolicy, Get-MSCommercePolicies and Get-MSCommercePolicy -TenantId' {
    BeforeEach {
        Start-FleetTest -SignIn Connect-PartnerApp
    }

    It 'reads one product in each tenant (a per-product fleet get), a tenant it cannot read is an error' {
        if ($script:FleetProblem) { return }
        Set-AlphaProduct 'Disabled'
        $rows = @(Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId $script:Product -TenantId $script:Alpha, $script:Echo, $script:Bravo -ErrorAction SilentlyContinue -ErrorVariable failed)
        @($rows | ForEach-Object { '{0} {1} {2}' -f $_.TenantId, $_.ProductId, $_.PolicyValue }) | Should -Be @("$($script:Alpha) $($script:Product) Disabled", "$($script:Bravo) $($script:Product) Disabled")
        @($rows[0].PSObject.TypeNames)[0..1] | Should -Be @('MSCommerce.TenantProductPolicy#Listing', 'MSCommerce.TenantProductPolicy')
        @($failed) | Should -HaveCount 1
        Assert-TenantError $failed $script:Echo 'Forbidden' 'PermissionDenied' 'Get-MSCommerceProductPolicy' 'HTTP 403'

        Set-AlphaProduct 'Enabled'
        $one = Get-MSCommerceProductPolicy AllowSelfServicePurchase $script:Product -TenantId $script:Alpha
        $one.PolicyValue | Should -Be 'Enabled'
        $one.PSObject.Properties.Name | Should -Not -Contain 'TenantId'
    }

    It 'reads the policies of one customer tenant' {
        if ($script:FleetProblem) { return }
        @(Get-MSCommercePolicies -TenantId $script:Alpha | ForEach-Object { $_.PolicyId }) | Should -Contain 'AllowSelfServicePurchase'
        (Get-MSCommercePolicy -PolicyId AllowSelfServicePurchase -TenantId $script:Bravo).PolicyId | Should -Be 'AllowSelfServicePurchase'
        # The request names the tenant: one the app is not consented in is refused.
        { Get-MSCommercePolicy -PolicyId AllowSelfServicePurchase -TenantId $script:Charlie -ErrorAction Stop } | Should -Throw '*AADSTS700016*'
        { Get-MSCommercePolicies -TenantId $script:Echo -ErrorAction Stop } | Should -Throw '*403*'
    }
}

Describe 'Update-MSCommerceProductPolicy -TenantId' {
    BeforeEach {
        Start-FleetTest -SignIn Connect-PartnerApp
    }

    It 'changes exactly that product in every reachable tenant; the unreachable ones are errors; a rerun writes nothing' {
        if ($script:FleetProblem) { return }
        $all = @($script:Alpha, $script:Bravo, $script:Charlie, $script:Delta, $script:Echo)
        $rows = @(Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId $script:Product -Value Disabled -TenantId $all -ErrorAction SilentlyContinue -ErrorVariable failed)
        @($rows | ForEach-Object { '{0} {1} {2} -> {3} {4}' -f $_.TenantId, $_.ProductId, $_.PreviousValue, $_.PolicyValue, $_.Status }) | Should -Be @(
            "$($script:Alpha) $($script:Product) Enabled -> Disabled Updated",
            "$($script:Bravo) $($script:Product) Disabled -> Disabled Unchanged",
            "$($script:Delta) $($script:Product) Enabled -> Disabled Updated")
        @($rows[0].PSObject.TypeNames)[0..1] | Should -Be @('MSCommerce.TenantProductPolicy', 'MSCommerce.ProductPolicy')
        ($rows | Out-String -Width 200) | Should -Match 'TenantId\s+ProductId\s+ProductName\s+PreviousValue\s+PolicyValue\s+Status'
        @($failed) | Should -HaveCount 2
        Assert-TenantError $failed $script:Charlie 'NotConsented' 'PermissionDenied' 'Update-MSCommerceProductPolicy' 'AADSTS700016'
        Assert-TenantError $failed $script:Echo 'Forbidden' 'PermissionDenied' 'Update-MSCommerceProductPolicy' 'HTTP 403'

        # Read back: that product only, in the reachable tenants only.
        Get-TenantSummary $script:Alpha | Should -Be 'Disabled / 11 others Enabled / 1 writes'
        Get-TenantSummary $script:Delta | Should -Be 'Disabled / 11 others Enabled / 1 writes'
        Get-TenantSummary $script:Bravo | Should -Be 'Disabled / 0 others Enabled / 0 writes'
        Assert-Tenant $script:Charlie -Value 'Enabled'
        Assert-Tenant $script:Echo -Value 'Enabled'
        Get-Updates | Should -Be 2

        $again = @(Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId $script:Product -Value Disabled -TenantId $script:Alpha, $script:Bravo, $script:Delta)
        Get-Updates | Should -Be 2
        @($again | Where-Object Status -ne 'Unchanged') | Should -HaveCount 0
        $again | Should -HaveCount 3
    }

    It 'changes the piped products in each tenant as one bulk change per tenant; one -TenantId is that tenant''s own change' {
        if ($script:FleetProblem) { return }
        $two = @(Get-MSCommerceProductPolicies AllowSelfServicePurchase -TenantId $script:Alpha | Where-Object { $_.ProductId -in @($script:Product, $script:Keep) })
        $two | Should -HaveCount 2
        $rows = @($two | Update-MSCommerceProductPolicy -Value Disabled -TenantId $script:Delta, $script:Bravo -TenantThrottleLimit 2)
        Get-StatusLine $rows | Should -Be @("$($script:Bravo) 2 Unchanged", "$($script:Delta) 2 Updated")
        (Read-Tenant $script:Delta).Values[$script:Keep] | Should -Be 'Disabled'
        Get-TenantSummary $script:Delta | Should -Be 'Disabled / 10 others Enabled / 2 writes'
        Get-Updates | Should -Be 2

        $single = @(Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId $script:Product -Enabled $false -TenantId $script:Alpha)
        $single | Should -HaveCount 1
        $single[0].PSObject.Properties.Name | Should -Not -Contain 'TenantId'
        $single[0].PolicyValue | Should -Be 'Disabled'
        Get-TenantSummary $script:Alpha | Should -Be 'Disabled / 11 others Enabled / 1 writes'
        Get-TenantSummary $script:Bravo | Should -Be 'Disabled / 0 others Enabled / 0 writes'
    }

    It '-WhatIf writes nothing in any tenant' {
        if ($script:FleetProblem) { return }
        $rows = @(Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId $script:Product, $script:Keep -Value Disabled -TenantId $script:Alpha, $script:Delta, $script:Charlie -WhatIf -ErrorAction SilentlyContinue -ErrorVariable failed)
        $rows | Should -HaveCount 0
        Get-Updates | Should -Be 0
        Assert-Tenant $script:Alpha -Value 'Enabled'
        Assert-Tenant $script:Delta -Value 'Enabled'
        # The what-if plan reached every tenant: the unreachable one is an error.
        Assert-TenantError $failed $script:Charlie 'NotConsented' 'PermissionDenied' 'Update-MSCommerceProductPolicy' 'AADSTS700016'
    }
}

Describe 'Update-MSCommerceProductPolicy -TenantId: -WhatIf and -Confirm per tenant (a new process)' {
    BeforeEach {
        Start-FleetTest
    }

    It '-WhatIf shows one line per tenant that would change; -Confirm asks per tenant and writes only in the confirmed ones' {
        if ($script:FleetProblem) { return }
        $update = "Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId $($script:Product) -Value Disabled -TenantId '$($script:Alpha)', '$($script:Bravo)', '$($script:Delta)'"
        $shown = Invoke-PartnerProcess "$update -WhatIf"
        # One "What if:" line per tenant that would change (bravo is Disabled already), nothing written.
        $targets = @($shown.Output | Where-Object { $_ -like 'What if:*' } | ForEach-Object { ($_ -split 'on target ')[1] })
        $targets | Should -Be @("`"tenant '$($script:Alpha)'`".", "`"tenant '$($script:Delta)'`".") -Because ($shown.Output -join "`n")
        ($shown.Output -join "`n") | Should -Match ([regex]::Escape("Set policy 'AllowSelfServicePurchase' of 1 products ($($script:Product))"))
        Get-Updates | Should -Be 0

        # Yes for alpha, no for delta; bravo has nothing to change and is not asked about.
        $run = Invoke-PartnerProcess -Interactive ("$update -Confirm | ForEach-Object { ""result `$(`$_.TenantId) `$(`$_.Status)"" }`nY`nN")
        $text = $run.Output -join "`n"
        @([regex]::Matches($text, 'result \S+ \w+') | ForEach-Object { $_.Value } | Sort-Object) | Should -Be @("result $($script:Bravo) Unchanged", "result $($script:Alpha) Updated") -Because $text
        Get-TenantSummary $script:Alpha | Should -Be 'Disabled / 11 others Enabled / 1 writes'
        Assert-Tenant $script:Delta -Value 'Enabled'
        Get-Updates | Should -Be 1
    }
}

Describe 'Export-MSCommerceBaseline -TenantId' {
    BeforeEach {
        Start-FleetTest -SignIn Connect-PartnerApp
    }

    It 'writes the customer''s baseline: its TenantId and its values' {
        if ($script:FleetProblem) { return }
        Set-AlphaProduct 'Disabled'
        $path = Join-Path $script:Folder 'alpha.json'
        Export-MSCommerceBaseline -Path $path -TenantId $script:Alpha -Force
        $baseline = Get-Content -LiteralPath $path -Raw | ConvertFrom-Json
        $baseline.TenantId | Should -Be '00000000-0000-4000-8000-0000000000a1'
        @($baseline.Products) | Should -HaveCount 12
        @($baseline.Products | Where-Object PolicyValue -eq 'Disabled' | ForEach-Object { $_.ProductId }) | Should -Be @($script:Product)
        # The file is that customer's: it matches alpha, not bravo.
        @(Test-MSCommerceBaseline -Path $path -TenantId $script:Alpha) | Should -HaveCount 0
        Get-Updates | Should -Be 0
    }
}
