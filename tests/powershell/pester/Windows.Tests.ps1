#Requires -Version 5.1
# Where the module's Windows code path differs from Linux and macOS, run for real: an installed
# module (runtimes/<rid>/native, no MSCOMMERCE_NATIVE_LIBRARY) in a folder whose path has spaces and
# non-ASCII characters, the browser sign-in through the shell (Start-Process of the authorize URL,
# not mocked), the certificate store behind -CertificateThumbprint, and the 32-bit win-x86 library.
# tests/windows/run-pester-wine.sh runs this suite
# under Windows pwsh in Wine against the win-x64 DLL; tests/run.sh runs it under pwsh on Linux too.
# A test that cannot run says why and which Windows behaviour it leaves unproven.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSupport.ps1')

    $script:HasCurl = $null -ne (Get-Command -Name curl -CommandType Application -ErrorAction Ignore)

    # Copies the module (without runtimes/) into a new module folder whose path has spaces and
    # non-ASCII characters, as <folder>/MSCommerce/<version>, with $Library as
    # runtimes/<Rid>/native/<file>; returns the folder and the module's root.
    function New-InstalledModule {
        param(
            [Parameter(Mandatory = $true)]
            [string] $Library,

            [Parameter(Mandatory = $true)]
            [string] $Rid,

            [Parameter(Mandatory = $true)]
            [string] $FileName
        )
        $folder = Join-Path ([System.IO.Path]::GetTempPath()) ("MSCommerce modules ü ö é 模块 {0}" -f [guid]::NewGuid().ToString('N').Substring(0, 8))
        $version = (Test-ModuleManifest -Path $script:ManifestPath).Version.ToString()
        $root = [System.IO.Path]::Combine($folder, 'MSCommerce', $version)
        $null = New-Item -ItemType Directory -Path $root
        Get-ChildItem -LiteralPath (Split-Path -Parent $script:ManifestPath) | Where-Object { $_.Name -ne 'runtimes' } |
            Copy-Item -Destination $root -Recurse
        $native = [System.IO.Path]::Combine($root, 'runtimes', $Rid, 'native')
        $null = New-Item -ItemType Directory -Path $native
        Copy-Item -LiteralPath $Library -Destination (Join-Path $native $FileName)
        [pscustomobject]@{
            Folder  = $folder
            Root    = $root
            Library = Join-Path $native $FileName
        }
    }

    # In a new PowerShell process: Import-Module MSCommerce by name from $Folder (first in
    # PSModulePath, MSCOMMERCE_NATIVE_LIBRARY unset), sign in with a token and read a product.
    # Output lines: rid=, module=, library=, product=.
    function Invoke-InstalledModule {
        param(
            [Parameter(Mandatory = $true)]
            [string] $Folder,

            [string] $PowerShell = (Get-TestPowerShellPath)
        )
        $commands = @'
$ErrorActionPreference = 'Stop'
[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding -ArgumentList $false
Import-Module MSCommerce
$module = Get-Module MSCommerce
Connect-MSCommerce -AccessToken $env:MSCOMMERCE_TEST_TOKEN -ServiceUrl $env:MSCOMMERCE_SERVICE_URL -AuthorityHost $env:MSCOMMERCE_SERVICE_URL 6> $null
"rid=$(& $module { (Get-MSCommerceRuntimeIdentifier).Rid })"
"module=$($module.ModuleBase)"
"library=$(& $module { $script:MSCommerceLibraryPath })"
"product=$((Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N).ProductName)"
'@
        Invoke-TestPowerShell -InputText $commands -PowerShell $PowerShell -TimeoutSeconds 180 -Environment @{
            PSModulePath              = $Folder + [System.IO.Path]::PathSeparator + $env:PSModulePath
            MSCOMMERCE_NATIVE_LIBRARY = $null
            MSCOMMERCE_TEST_TOKEN     = Get-EmulatorToken -User admin
            NO_COLOR                  = '1'
        }
    }
}

AfterAll {
    Stop-TestEnvironment
}

Describe 'The module installed in a folder with spaces and non-ASCII characters' {
    It 'imports by name, loads the library of its runtime folder (runtimes/win-x64/native/mscommerce.dll on Windows x64) by its absolute path and calls the service' {
        $runtime = Get-MSCommerceRuntimeIdentifier
        $installed = New-InstalledModule -Library $script:Library -Rid $runtime.Rid -FileName $runtime.FileName
        try {
            $result = Invoke-InstalledModule -Folder $installed.Folder
            $text = $result.Output -join "`n"
            $result.ExitCode | Should -Be 0 -Because $text
            $result.Output | Should -Contain "rid=$($runtime.Rid)"
            $result.Output | Should -Contain "module=$($installed.Root)"
            $result.Output | Should -Contain "library=$($installed.Library)"
            $result.Output | Should -Contain 'product=Power Automate per user'
            if ($script:OnWindows) {
                $runtime.FileName | Should -Be 'mscommerce.dll'
                $runtime.Rid | Should -BeLike 'win-*'
            }
        }
        finally {
            Remove-Item -LiteralPath $installed.Folder -Recurse -Force -ErrorAction SilentlyContinue
        }
    }

    It 'this suite''s module loaded the library the suite was given' {
        $loaded = & (Get-Module MSCommerce) { $script:MSCommerceLibraryPath }
        $loaded | Should -Be $script:Library
        if ($script:LibraryInModule) {
            # A staged copy (tests/windows/run-pester-wine.sh): found there, as installed.
            $env:MSCOMMERCE_NATIVE_LIBRARY | Should -BeNullOrEmpty
            $loaded | Should -Be ([System.IO.Path]::Combine((Split-Path -Parent $script:ManifestPath), 'runtimes', $script:RuntimeId, 'native', (Split-Path -Leaf $loaded)))
        }
    }
}

Describe 'The password sign-in over plain HTTP to the loopback emulator' {
    # The same flows as MSCommerce.Tests.ps1 runs against the TLS emulator, here over plain HTTP to
    # 127.0.0.1 (the library allows plain HTTP to loopback only): the PSCredential reaches the
    # library (SecureString to text) and the sign-in runs whatever HTTPS can do on the platform.
    # (Added when Wine 8 could not verify the TLS emulator: the platform verifier's extra roots
    # failed there with E_INVALIDARG; caCertificatePath is now verified by webpki, see
    # src/transport.rs, and the HTTPS tests run under Wine too.)
    BeforeEach {
        Reset-Emulator
        Disconnect-MSCommerce
    }

    It 'Connect-MSCommerce -Credential signs in' {
        $password = ConvertTo-SecureString -String 'Emulator-Admin-1' -AsPlainText -Force
        $credential = New-Object System.Management.Automation.PSCredential -ArgumentList 'admin@contoso.onmicrosoft.com', $password
        Connect-MSCommerce -Credential $credential -TenantId $script:Tenant -ServiceUrl $script:Emulator.Url -AuthorityHost $script:Emulator.Url 6> $null
        (Get-MSCommerceConnectionInfo).Account | Should -Be 'admin@contoso.onmicrosoft.com'
        @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase) | Should -HaveCount 12
    }

    It 'a wrong password is a terminating AuthenticationError' {
        $password = ConvertTo-SecureString -String 'wrong' -AsPlainText -Force
        $credential = New-Object System.Management.Automation.PSCredential -ArgumentList 'admin@contoso.onmicrosoft.com', $password
        { Connect-MSCommerce -Credential $credential -TenantId $script:Tenant -ServiceUrl $script:Emulator.Url -AuthorityHost $script:Emulator.Url 6> $null } |
            Should -Throw -ErrorId 'MSCommerce.Authentication*'
    }
}

Describe 'The certificate store behind -CertificateThumbprint (CurrentUser\My)' {
    # The emulator's test certificate put into CurrentUser\My with .NET's X509Store, its key
    # persisted and not exportable, as an administrator would install it; then the sign-in with its
    # thumbprint against the TLS emulator (certificate sign-in needs an https:// authority), which
    # accepts the client assertion only if its RS256 signature verifies with the certificate's
    # public key. Under Wine the library gets the key as a CryptoAPI provider (Wine has no CNG key
    # storage provider and ignores CRYPT_ACQUIRE_*_NCRYPT_KEY_FLAG): the path this found broken (the
    # handle was used and freed as an NCrypt key). On Windows a software key comes through CNG.
    BeforeAll {
        $script:StoreProblem = $null
        if (-not $script:OnWindows) {
            $script:StoreProblem = '-CertificateThumbprint reads the Windows certificate store'
            return
        }
        $script:StoreMaterial = Invoke-Emulator -Method Get -Path '/_emulator/certificate'
        $flags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]'PersistKeySet,UserKeySet'
        $script:StoreCertificate = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new(
            [Convert]::FromBase64String($script:StoreMaterial.pfxBase64), $script:StoreMaterial.pfxPassword, $flags)
        $store = New-Object System.Security.Cryptography.X509Certificates.X509Store -ArgumentList 'My', 'CurrentUser'
        $store.Open('ReadWrite')
        try {
            $store.Add($script:StoreCertificate)
        }
        finally {
            # Closed at once: Wine writes an added certificate to the store only when the store is
            # closed, and the library opens the store anew.
            $store.Close()
        }
    }

    AfterAll {
        if ($script:StoreCertificate) {
            $store = New-Object System.Security.Cryptography.X509Certificates.X509Store -ArgumentList 'My', 'CurrentUser'
            $store.Open('ReadWrite')
            $store.Remove($script:StoreCertificate)
            $store.Close()
        }
        if ($script:StoreCertificate -and -not $script:UnderWine) {
            # The persisted key too, not only the certificate. Not under Wine, whose prefix goes
            # with the run: there .NET's GetRSAPrivateKey dies with an access violation (0xC0000005
            # in NCryptGetProperty: Wine hands .NET too a CryptoAPI handle where it asked for CNG).
            $key = [System.Security.Cryptography.X509Certificates.RSACertificateExtensions]::GetRSAPrivateKey($script:StoreCertificate)
            if ($key -is [System.Security.Cryptography.RSACng]) {
                $key.Key.Delete()
            }
            elseif ($key -is [System.Security.Cryptography.RSACryptoServiceProvider]) {
                $key.PersistKeyInCsp = $false
                $key.Clear()
            }
        }
    }

    BeforeEach {
        Reset-Emulator
        Disconnect-MSCommerce
    }

    It 'the certificate is in the store with its private key' {
        if ($script:StoreProblem) {
            Set-ItResult -Skipped -Because $script:StoreProblem
            return
        }
        $store = New-Object System.Security.Cryptography.X509Certificates.X509Store -ArgumentList 'My', 'CurrentUser'
        $store.Open('ReadOnly')
        try {
            $found = @($store.Certificates.Find('FindByThumbprint', $script:StoreMaterial.thumbprint, $false))
        }
        finally {
            $store.Close()
        }
        $found | Should -HaveCount 1
        $found[0].HasPrivateKey | Should -BeTrue
    }

    It 'Connect-MSCommerce -CertificateThumbprint signs the client assertion with the store key and signs in' {
        if ($script:StoreProblem) {
            Set-ItResult -Skipped -Because $script:StoreProblem
            return
        }
        Skip-WithoutTls -Unproven 'signing with a key of the CurrentUser\My store and the certificate sign-in on Windows (it needs HTTPS)'
        if ($script:TlsProblem) {
            return
        }
        $url = $script:TlsEmulator.Url
        $verbose = @(Connect-MSCommerce -TenantId $script:Tenant -ClientId $script:StoreMaterial.clientId -CertificateThumbprint $script:StoreMaterial.thumbprint -ServiceUrl $url -AuthorityHost $url -Verbose 4>&1 6> $null |
                ForEach-Object { "$_" })
        ($verbose -join "`n") | Should -Match ('thumbprint ' + $script:StoreMaterial.thumbprint)
        (Get-MSCommerceConnectionInfo).ClientId | Should -Be $script:StoreMaterial.clientId
        @(Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase) | Should -HaveCount 12
        # Signed again, with a new handle (each signature opens the key anew and frees it).
        Disconnect-MSCommerce
        Connect-MSCommerce -TenantId $script:Tenant -ClientId $script:StoreMaterial.clientId -CertificateThumbprint $script:StoreMaterial.thumbprint -ServiceUrl $url -AuthorityHost $url 6> $null
        (Get-MSCommerceConnectionInfo).ClientId | Should -Be $script:StoreMaterial.clientId
    }

    It 'a thumbprint no store has is an error that names it' {
        if ($script:StoreProblem) {
            Set-ItResult -Skipped -Because $script:StoreProblem
            return
        }
        $absent = '00112233445566778899AABBCCDDEEFF00112233'
        { Connect-MSCommerce -TenantId $script:Tenant -ClientId $script:StoreMaterial.clientId -CertificateThumbprint $absent -ServiceUrl $script:Emulator.Url -AuthorityHost $script:Emulator.Url 6> $null } |
            Should -Throw -ExpectedMessage "*$absent*"
    }
}

Describe 'The browser sign-in through the shell' {
    BeforeAll {
        # The browser: under Wine, the stand-in of tests/windows/run-pester-wine.sh (Wine's shell
        # hands the URL to winebrowser, which starts xdg-open from the Linux PATH); on Linux, an
        # xdg-open stand-in on PATH made here (.NET's shell execute starts xdg-open). Either fetches
        # the URL with curl, following redirects, as a browser signed in to the emulator.
        $script:BrowserProblem = $null
        $script:BrowserFolder = $null
        $script:BrowserLog = $null
        $script:SavedPath = $env:PATH
        if ($env:MSCOMMERCE_TEST_BROWSER -eq 'stand-in' -and $env:MSCOMMERCE_TEST_BROWSER_LOG) {
            $script:BrowserLog = $env:MSCOMMERCE_TEST_BROWSER_LOG
        }
        elseif ($script:OnWindows) {
            $script:BrowserProblem = 'leaves unproven Start-Process of the authorize URL through the Windows shell: no stand-in browser (on Windows Start-Process opens the default browser, which is not signed in to the emulator; tests/windows/run-pester-wine.sh provides one under Wine)'
        }
        elseif (-not $script:HasCurl) {
            $script:BrowserProblem = 'curl is not installed: the xdg-open stand-in fetches the URL with it'
        }
        else {
            $script:BrowserFolder = Join-Path ([System.IO.Path]::GetTempPath()) ("mscommerce-browser-{0}" -f [guid]::NewGuid())
            $null = New-Item -ItemType Directory -Path $script:BrowserFolder
            $script:BrowserLog = Join-Path $script:BrowserFolder 'browser.log'
            $opener = Join-Path $script:BrowserFolder 'xdg-open'
            Set-Content -LiteralPath $opener -NoNewline -Value ("#!/bin/sh`nprintf '%s\n' `"`$1`" >>'$($script:BrowserLog)'`n" +
                "exec curl --silent --show-error --location --max-redirs 5 --max-time 30 --output /dev/null `"`$1`"`n")
            [System.IO.File]::SetUnixFileMode($opener, [System.IO.UnixFileMode]'UserRead, UserWrite, UserExecute')
            $env:PATH = $script:BrowserFolder + [System.IO.Path]::PathSeparator + $env:PATH
        }
    }

    AfterAll {
        $env:PATH = $script:SavedPath
        if ($script:BrowserFolder) {
            Remove-Item -LiteralPath $script:BrowserFolder -Recurse -Force -ErrorAction SilentlyContinue
        }
    }

    It 'Connect-MSCommerce opens the authorize URL with Start-Process (not mocked) and signs in' {
        if ($script:BrowserProblem) {
            Set-ItResult -Skipped -Because $script:BrowserProblem
            return
        }
        Reset-Emulator
        $null = Invoke-Emulator -Path '/_emulator/browser' -Body @{ user = 'admin' }
        $before = @(Get-Content -LiteralPath $script:BrowserLog -ErrorAction SilentlyContinue).Count
        # In a runspace of its own, stopped after 120 s: a browser that never comes would otherwise
        # keep the sign-in waiting for 10 minutes. A warning means Start-Process failed.
        $result = Invoke-InRunspace -TimeoutSeconds 120 -Parameters @{ Manifest = $script:ManifestPath; Url = $script:Emulator.Url; Tenant = $script:Tenant } -Script @'
param($Manifest, $Url, $Tenant)
Import-Module -Name $Manifest -ErrorAction Stop
Connect-MSCommerce -TenantId $Tenant -ServiceUrl $Url -AuthorityHost $Url -WarningAction Stop
(Get-MSCommerceConnectionInfo).Account
'@
        $result.Terminating | Should -BeNullOrEmpty
        $result.Warnings | Should -HaveCount 0
        $result.Errors | Should -HaveCount 0
        $result.Output | Should -Be @('admin@contoso.onmicrosoft.com')
        $opened = @(Get-Content -LiteralPath $script:BrowserLog | Select-Object -Skip $before)
        $opened | Should -HaveCount 1
        $opened[0] | Should -BeLike "$($script:Emulator.Url)/*authorize*"
    }
}

Describe 'The 32-bit library (win-x86)' {
    It 'a 32-bit PowerShell loads runtimes/win-x86/native/mscommerce.dll and calls the service' {
        if (-not $script:OnWindows) {
            Set-ItResult -Skipped -Because 'win-x86 is a Windows runtime'
            return
        }
        if ($script:UnderWine) {
            Set-ItResult -Skipped -Because ('leaves unproven the win-x86 runtime id and loading the i686 mscommerce.dll from runtimes/win-x86/native (.ci/abi.sh checks that DLL by build and export table only): ' +
                'no 32-bit PowerShell under this Wine: winpwsh is the x64 build of pwsh only, and 32-bit Wine (Debian''s wine32:i386) is not installed, so no x86 process runs here')
            return
        }
        $powershell32 = Join-Path $env:SystemRoot 'SysWOW64\WindowsPowerShell\v1.0\powershell.exe'
        if (-not (Test-Path -LiteralPath $powershell32)) {
            Set-ItResult -Skipped -Because "leaves unproven the win-x86 runtime id and loading runtimes/win-x86/native/mscommerce.dll: no 32-bit Windows PowerShell at $powershell32"
            return
        }
        if (-not $env:MSCOMMERCE_TEST_LIBRARY_X86 -or -not (Test-Path -LiteralPath $env:MSCOMMERCE_TEST_LIBRARY_X86)) {
            Set-ItResult -Skipped -Because 'leaves unproven loading the win-x86 mscommerce.dll in a 32-bit process: MSCOMMERCE_TEST_LIBRARY_X86 does not name it (build.ps1 -AllArchitectures builds it)'
            return
        }
        $installed = New-InstalledModule -Library $env:MSCOMMERCE_TEST_LIBRARY_X86 -Rid 'win-x86' -FileName 'mscommerce.dll'
        try {
            $result = Invoke-InstalledModule -Folder $installed.Folder -PowerShell $powershell32
            $text = $result.Output -join "`n"
            $result.ExitCode | Should -Be 0 -Because $text
            $result.Output | Should -Contain 'rid=win-x86'
            $result.Output | Should -Contain "library=$($installed.Library)"
            $result.Output | Should -Contain 'product=Power Automate per user'
        }
        finally {
            Remove-Item -LiteralPath $installed.Folder -Recurse -Force -ErrorAction SilentlyContinue
        }
    }
}
