# Shared set-up of the Pester suite, dot-sourced by every *.Tests.ps1 in its BeforeAll: finds the
# native library and the emulator binary, starts a plain and a TLS emulator, points the module at
# them through MSCOMMERCE_* variables, imports the module, and defines the helpers the tests use.
# Stop-TestEnvironment (in AfterAll) stops the emulators and restores the variables.
#
# Variables that point the suite elsewhere (tests/windows/run-pester-wine.sh sets them all):
#   MSCOMMERCE_TEST_MODULE     the manifest of another copy of the module (staged or installed);
#   MSCOMMERCE_TEST_LIBRARY    the native library; when it is that copy's runtimes/<rid>/native/<file>,
#                              the module finds it there itself, as an installed module does
#                              (MSCOMMERCE_NATIVE_LIBRARY is then left unset);
#   MSCOMMERCE_TEST_BIN        the mscommerce CLI that runs the emulators;
#   MSCOMMERCE_TEST_EMULATOR_URL, MSCOMMERCE_TEST_TLS_EMULATOR_URL with MSCOMMERCE_TEST_CA_FILE (its
#   CA certificate, PEM), MSCOMMERCE_TEST_PROXY_EMULATOR_URL: emulators already running (e.g. on the
#   Linux side of Wine, which shares the host's network), used instead of starting them, and left
#   running; MSCOMMERCE_TEST_BIN is then not needed;
#   MSCOMMERCE_TEST_BROWSER    'stand-in' when a Start-Process of a URL reaches a stand-in browser
#                              that fetches it, following redirects (the emulator's browser session
#                              signs it in), and MSCOMMERCE_TEST_BROWSER_LOG the file it logs each
#                              URL to.

$script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../../..')).Path
$script:Policy = 'AllowSelfServicePurchase'
$script:NotConnectedMessage = 'You must call the Connect-MSCommerce cmdlet before calling any other cmdlets'
$script:AppClientId = '8f0e2a6c-5d3b-4c1e-9a7f-2b6d4e8c1a01'
$script:AppSecret = 'emulator-app-secret'
$script:Tenant = 'contoso.onmicrosoft.com'

# MSCOMMERCE_TEST_MODULE names another copy of the module's manifest (a staged or installed module,
# or an older revision to show that a test fails on it).
$script:ManifestPath = if ($env:MSCOMMERCE_TEST_MODULE) { $env:MSCOMMERCE_TEST_MODULE } else { Join-Path $script:RepoRoot 'ps-module/MSCommerce/MSCommerce.psd1' }

# The folder to put in $env:PSModulePath for Import-Module MSCommerce to find that copy: the
# manifest is in <folder>/MSCommerce or, as Install-Module lays it out, <folder>/MSCommerce/<version>.
$moduleBase = Split-Path -Parent $script:ManifestPath
$script:ModulePathEntry = Split-Path -Parent $moduleBase
if ($null -ne ((Split-Path -Leaf $moduleBase) -as [version]) -and (Split-Path -Leaf $script:ModulePathEntry) -eq 'MSCommerce') {
    $script:ModulePathEntry = Split-Path -Parent $script:ModulePathEntry
}

# The module's own rule picks the library file for this OS and architecture.
. (Join-Path $script:RepoRoot 'ps-module/MSCommerce/Private/Import.ps1')
$runtime = Get-MSCommerceRuntimeIdentifier
$script:RuntimeId = $runtime.Rid
$targetDir = if ($env:CARGO_TARGET_DIR) { $env:CARGO_TARGET_DIR } else { Join-Path $script:RepoRoot 'target' }
$release = Join-Path $targetDir 'release'
$libraryName = $runtime.FileName
$binaryName = if ($runtime.OS -eq 'win') { 'mscommerce.exe' } else { 'mscommerce' }
$script:Library = if ($env:MSCOMMERCE_TEST_LIBRARY) { $env:MSCOMMERCE_TEST_LIBRARY } else { Join-Path $release $libraryName }
$script:Binary = if ($env:MSCOMMERCE_TEST_BIN) { $env:MSCOMMERCE_TEST_BIN } else { Join-Path $release $binaryName }
$script:OnWindows = $ExecutionContext.SessionState.PSVariable.GetValue('IsWindows')
if ($null -eq $script:OnWindows) {
    $script:OnWindows = $true
}
# Wine keeps its own settings in HKLM\Software\Wine; Windows has no such key.
$script:UnderWine = $script:OnWindows -and (Test-Path -LiteralPath 'HKLM:\Software\Wine')
# Why HTTPS to the TLS emulator cannot work here (set below), else $null.
$script:TlsProblem = $null
$script:ExternalEmulators = -not [string]::IsNullOrEmpty($env:MSCOMMERCE_TEST_EMULATOR_URL)
if (Test-Path -LiteralPath $script:Library) {
    $script:Library = (Resolve-Path -LiteralPath $script:Library).ProviderPath
}
# The library as an installed module holds it: the module finds it without MSCOMMERCE_NATIVE_LIBRARY.
$moduleLibrary = [System.IO.Path]::Combine((Split-Path -Parent $script:ManifestPath), 'runtimes', $runtime.Rid, 'native', $libraryName)
$script:LibraryInModule = [System.IO.File]::Exists($moduleLibrary) -and
    [System.IO.Path]::GetFullPath($moduleLibrary) -eq [System.IO.Path]::GetFullPath($script:Library)

function Start-TestEmulator {
    param(
        [string[]] $Arguments = @(),

        # The variable that names this emulator when it already runs (MSCOMMERCE_TEST_*_URL).
        [string] $UrlVariable
    )
    if ($script:ExternalEmulators) {
        $url = if ($UrlVariable) { [Environment]::GetEnvironmentVariable($UrlVariable) } else { $null }
        if ([string]::IsNullOrEmpty($url)) {
            throw "MSCOMMERCE_TEST_EMULATOR_URL names a running emulator, but $UrlVariable, the one this test needs, is not set"
        }
        return [pscustomobject]@{
            Process = $null
            Url     = $url.TrimEnd('/')
        }
    }
    $info = New-Object System.Diagnostics.ProcessStartInfo
    $info.FileName = $script:Binary
    $info.Arguments = (@('emulator', '--port', '0') + $Arguments) -join ' '
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    $info.UseShellExecute = $false
    $process = [System.Diagnostics.Process]::Start($info)
    $line = $process.StandardOutput.ReadLine()
    if ($line -notmatch 'Emulator listening on (\S+)') {
        $process.Kill()
        throw "The emulator did not start: $line"
    }
    $null = $process.StandardOutput.ReadToEndAsync()
    $null = $process.StandardError.ReadToEndAsync()
    [pscustomobject]@{
        Process = $process
        Url     = $Matches[1].TrimEnd('/')
    }
}

function Invoke-Emulator {
    param(
        [string] $Method = 'Post',
        [string] $Path,
        [hashtable] $Body = @{}
    )
    $uri = $script:Emulator.Url + $Path
    if ($Method -eq 'Get') {
        return Invoke-RestMethod -Method Get -Uri $uri
    }
    Invoke-RestMethod -Method $Method -Uri $uri -ContentType 'application/json' -Body (ConvertTo-Json -InputObject $Body -Compress)
}

function Get-EmulatorToken {
    param(
        [string] $User = 'admin'
    )
    (Invoke-Emulator -Path '/_emulator/token' -Body @{ user = $User; lifetimeSeconds = 3600 }).access_token
}

function Reset-Emulator {
    $null = Invoke-Emulator -Path '/_emulator/reset'
}

function Get-EmulatorStats {
    Invoke-Emulator -Method Get -Path '/_emulator/stats'
}

function Connect-AsUser {
    param(
        [string] $User = 'admin'
    )
    Connect-MSCommerce -AccessToken (Get-EmulatorToken -User $User) -ServiceUrl $script:Emulator.Url -AuthorityHost $script:Emulator.Url 6> $null
}

function Stop-TestEmulator {
    # Stops an emulator this suite started; one that was running before (external) keeps running.
    param($Emulator)
    if ($null -ne $Emulator -and $null -ne $Emulator.Process -and -not $Emulator.Process.HasExited) {
        $Emulator.Process.Kill()
        $Emulator.Process.WaitForExit(10000) | Out-Null
    }
}

function Stop-TestEnvironment {
    Remove-Module -Name MSCommerce -Force -ErrorAction SilentlyContinue
    if ($script:CatalogueToRestore) {
        Set-EmulatorCatalogue -Catalogue $script:CatalogueToRestore
        Reset-Emulator
        $script:CatalogueToRestore = $null
    }
    foreach ($server in @($script:Emulator, $script:TlsEmulator)) {
        Stop-TestEmulator -Emulator $server
    }
    if ($script:OwnCaFile -and $script:CaFile -and (Test-Path -LiteralPath $script:CaFile)) {
        Remove-Item -LiteralPath $script:CaFile -Force
    }
    foreach ($name in @($script:SavedEnvironment.Keys)) {
        [Environment]::SetEnvironmentVariable($name, $script:SavedEnvironment[$name])
    }
}

function Skip-WithoutTls {
    # In an It block: marks the test skipped when HTTPS to the TLS emulator cannot work here, saying
    # why and what it leaves unproven.
    param(
        [Parameter(Mandatory = $true)]
        [string] $Unproven
    )
    if ($script:TlsProblem) {
        Set-ItResult -Skipped -Because "leaves unproven $($Unproven): $($script:TlsProblem)"
    }
}

function Get-TestPowerShellPath {
    # The PowerShell this suite runs under, to start a child of the same kind: pwsh's app host in
    # $PSHOME (the process may be `dotnet pwsh.dll`), or Windows PowerShell's powershell.exe.
    $names = if ($PSVersionTable.PSEdition -eq 'Desktop') { @('powershell.exe') } else { @('pwsh.exe', 'pwsh') }
    foreach ($name in $names) {
        $candidate = Join-Path $PSHOME $name
        if (Test-Path -LiteralPath $candidate -PathType Leaf) {
            return $candidate
        }
    }
    throw "No PowerShell executable in $PSHOME"
}

function Invoke-CallerScript {
    # Runs $Script in a new runspace of this process after importing the module and connecting as
    # admin. -GlobalScope runs it in the global scope instead (dot-sourced), as typed at a prompt.
    param(
        [Parameter(Mandatory = $true)]
        [string] $Script,

        [switch] $GlobalScope
    )
    $preamble = @'
param($Manifest, $Url, $Token)
Import-Module -Name $Manifest -ErrorAction Stop
Connect-MSCommerce -AccessToken $Token -ServiceUrl $Url -AuthorityHost $Url -InformationAction Ignore

'@
    Invoke-InRunspace -Script ($preamble + $Script) -GlobalScope:$GlobalScope -Parameters @{
        Manifest = $script:ManifestPath
        Url      = $script:Emulator.Url
        Token    = Get-EmulatorToken -User admin
    }
}

function Invoke-TestPowerShell {
    # Runs a new PowerShell process (by default of the kind this suite runs under) as
    # `-NoProfile -NonInteractive -Command -` with $InputText on its standard input, as if typed at a
    # prompt, and returns its exit code and its output lines (standard output, then standard error).
    # $Environment adds variables to the child's environment ($null removes one). A child that has
    # not ended after $TimeoutSeconds is killed and the call throws with its output so far: a hang
    # is a failure, never a long wait.
    param(
        [Parameter(Mandatory = $true)]
        [string] $InputText,

        [string] $PowerShell = (Get-TestPowerShellPath),

        [hashtable] $Environment = @{},

        [int] $TimeoutSeconds = 180,

        # Without -NonInteractive: a prompt (a -Confirm question) reads its answer from the next
        # line of $InputText.
        [switch] $Interactive
    )
    $info = New-Object System.Diagnostics.ProcessStartInfo
    $info.FileName = $PowerShell
    $info.Arguments = if ($Interactive) { '-NoProfile -Command -' } else { '-NoProfile -NonInteractive -Command -' }
    $info.UseShellExecute = $false
    $info.RedirectStandardInput = $true
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    $utf8 = New-Object System.Text.UTF8Encoding -ArgumentList $false
    $info.StandardOutputEncoding = $utf8
    $info.StandardErrorEncoding = $utf8
    foreach ($name in @($Environment.Keys)) {
        if ($null -eq $Environment[$name]) {
            $info.EnvironmentVariables.Remove($name)
        }
        else {
            $info.EnvironmentVariables[$name] = [string]$Environment[$name]
        }
    }
    $process = [System.Diagnostics.Process]::Start($info)
    try {
        $stdout = $process.StandardOutput.ReadToEndAsync()
        $stderr = $process.StandardError.ReadToEndAsync()
        $process.StandardInput.Write($InputText + "`n")
        $process.StandardInput.Close()
        $finished = $process.WaitForExit($TimeoutSeconds * 1000)
        if (-not $finished) {
            $process.Kill()
            $null = $process.WaitForExit(10000)
        }
        $process.WaitForExit()
        $null = $stdout.Wait(10000)
        $null = $stderr.Wait(10000)
        $lines = @((([string]$stdout.Result) -split "`r?`n") + (([string]$stderr.Result) -split "`r?`n") | Where-Object { $_ -ne '' })
        if (-not $finished) {
            throw "$PowerShell did not end within $TimeoutSeconds s and was killed; its output: $($lines -join ' | ')"
        }
        [pscustomobject]@{
            ExitCode = $process.ExitCode
            Output   = $lines
        }
    }
    finally {
        $process.Dispose()
    }
}

function Invoke-ModuleProcess {
    # Runs $InputText in a new PowerShell process (Invoke-TestPowerShell: one command a line, as
    # typed at a prompt) after importing the module and connecting as admin to the plain emulator.
    # Its host shows "What if:" lines and, with -Interactive, asks -Confirm questions, answered by
    # the lines after the command.
    param(
        [Parameter(Mandatory = $true)]
        [string] $InputText,

        [switch] $Interactive
    )
    $manifest = $script:ManifestPath.Replace("'", "''")
    $url = $script:Emulator.Url
    $preamble = "Import-Module -Name '$manifest' -ErrorAction Stop`n" +
        "Connect-MSCommerce -AccessToken '$(Get-EmulatorToken)' -ServiceUrl '$url' -AuthorityHost '$url' 6> `$null`n"
    Invoke-TestPowerShell -InputText ($preamble + $InputText) -Interactive:$Interactive -Environment @{
        MSCOMMERCE_NATIVE_LIBRARY = $env:MSCOMMERCE_NATIVE_LIBRARY
        NO_COLOR                  = '1'
    }
}

function Set-EmulatorCatalogue {
    # Serves another catalogue (seed, docs2025, generated:N), every value Enabled; a reset keeps it.
    # Stop-TestEnvironment serves the first one again (emulators that outlive this file, under
    # Wine, are shared by the files that run after it).
    param(
        [Parameter(Mandatory = $true)]
        [string] $Catalogue
    )
    if ($null -eq $script:CatalogueToRestore) {
        $script:CatalogueToRestore = [string](Invoke-Emulator -Method Get -Path '/_emulator/catalogue').catalogue
    }
    $null = Invoke-Emulator -Path '/_emulator/catalogue' -Body @{ catalogue = $Catalogue }
}

function Set-EmulatorFaults {
    # Replaces the emulator's faults (latencyMs, throttle, events, ...: /_emulator).
    param(
        [hashtable] $Faults = @{}
    )
    $null = Invoke-RestMethod -Method Post -Uri ($script:Emulator.Url + '/_emulator/faults') -ContentType 'application/json' -Body (ConvertTo-Json -InputObject $Faults -Compress -Depth 6)
}

function Invoke-InRunspace {
    # Runs $Script with $Parameters in a new runspace of this process, in a local scope (-GlobalScope:
    # the global one), and returns its output, the exception that ended it and its streams. The
    # module is imported there anew (its shim and library are this process's). A run that has not
    # ended after $TimeoutSeconds is stopped (as Ctrl+C does) and the call throws: a hang fails the
    # test instead of the whole suite.
    param(
        [Parameter(Mandatory = $true)]
        [string] $Script,

        [hashtable] $Parameters = @{},

        [switch] $GlobalScope,

        [int] $TimeoutSeconds = 300
    )
    $powershell = [powershell]::Create()
    try {
        $null = $powershell.AddScript($Script, -not $GlobalScope)
        foreach ($name in @($Parameters.Keys)) {
            $null = $powershell.AddParameter($name, $Parameters[$name])
        }
        $async = $powershell.BeginInvoke()
        if (-not $async.AsyncWaitHandle.WaitOne($TimeoutSeconds * 1000)) {
            $powershell.Stop()
            throw "the script did not end within $TimeoutSeconds s and was stopped; its warnings: $(@($powershell.Streams.Warning) -join ' | '); its errors: $(@($powershell.Streams.Error) -join ' | ')"
        }
        $output = $null
        $terminating = $null
        try {
            $output = @($powershell.EndInvoke($async))
        }
        catch {
            $terminating = $_.Exception.InnerException
            if ($null -eq $terminating) {
                $terminating = $_.Exception
            }
        }
        [pscustomobject]@{
            Output      = @($output)
            Terminating = $terminating
            Errors      = @($powershell.Streams.Error)
            Warnings    = @($powershell.Streams.Warning)
            Verbose     = @($powershell.Streams.Verbose)
            Progress    = @($powershell.Streams.Progress)
            Information = @($powershell.Streams.Information)
        }
    }
    finally {
        $powershell.Dispose()
    }
}

# ------------------------------------------------------------------------------------------ set-up
# Last, so that the functions above (Stop-TestEnvironment for AfterAll) exist when it throws.
if (-not (Test-Path -LiteralPath $script:Library)) {
    throw "Native library not built: $($script:Library) (run cargo build --release)"
}
if (-not $script:ExternalEmulators -and -not (Test-Path -LiteralPath $script:Binary)) {
    throw "Emulator binary not built: $($script:Binary) (run cargo build --release)"
}
$script:Emulator = Start-TestEmulator -UrlVariable MSCOMMERCE_TEST_EMULATOR_URL
if ($script:ExternalEmulators) {
    $caFile = $env:MSCOMMERCE_TEST_CA_FILE
    if ([string]::IsNullOrEmpty($caFile) -or -not (Test-Path -LiteralPath $caFile)) {
        throw "MSCOMMERCE_TEST_CA_FILE must name the running TLS emulator's CA certificate (it is '$caFile')"
    }
    $script:OwnCaFile = $false
}
else {
    $caFile = Join-Path ([System.IO.Path]::GetTempPath()) ("mscommerce-pester-ca-{0}.pem" -f [guid]::NewGuid())
    $script:OwnCaFile = $true
}
$script:TlsEmulator = Start-TestEmulator -Arguments @('--tls', '--ca-out', "`"$caFile`"") -UrlVariable MSCOMMERCE_TEST_TLS_EMULATOR_URL
$script:CaFile = $caFile

$script:SavedEnvironment = @{}
foreach ($name in @('MSCOMMERCE_NATIVE_LIBRARY', 'MSCOMMERCE_SERVICE_URL', 'MSCOMMERCE_AUTHORITY_HOST', 'MSCOMMERCE_CA_FILE', 'MSCOMMERCE_MAX_RETRIES')) {
    $script:SavedEnvironment[$name] = [Environment]::GetEnvironmentVariable($name)
}
if ($script:LibraryInModule) {
    $env:MSCOMMERCE_NATIVE_LIBRARY = $null
}
else {
    $env:MSCOMMERCE_NATIVE_LIBRARY = $script:Library
}
$env:MSCOMMERCE_SERVICE_URL = $script:Emulator.Url
$env:MSCOMMERCE_AUTHORITY_HOST = $script:Emulator.Url
$env:MSCOMMERCE_CA_FILE = $caFile
$env:MSCOMMERCE_MAX_RETRIES = '1'

try {
    Import-Module -Name $script:ManifestPath -Force -ErrorAction Stop
}
catch {
    if (-not ($script:UnderWine -and "$_" -match 'trusted certificates')) {
        throw
    }
    # Wine 8: with an extra root (the TLS emulator's CA), the library's Windows platform verifier
    # cannot even be made, so no session opens; without it, everything but HTTPS to the emulator runs.
    $script:TlsProblem = ("under Wine 8 no session opens with the TLS emulator's CA as an extra root (MSCOMMERCE_CA_FILE): " +
        "$($_.Exception.Message) - rustls-platform-verifier's certificate chain engine with hExclusiveRoot, which Wine 8 refuses")
    $env:MSCOMMERCE_CA_FILE = $null
    Import-Module -Name $script:ManifestPath -Force -ErrorAction Stop
}
