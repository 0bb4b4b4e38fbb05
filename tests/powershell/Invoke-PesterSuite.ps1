<#
.SYNOPSIS
    Runs the module's Pester 5 suite and reports it in one countable line.

.DESCRIPTION
    Runs Pester 5 on -Path (default: tests/powershell/pester beside this script) with plain-text,
    detailed output, then prints:
      - each failed test, block and file with its error;
      - each skipped test with its reason (Set-ItResult -Skipped -Because '...', It -Skip, ...);
      - as the last line: '<Label>: N passed, N failed, N skipped'.
    The exit code is the failed count (0 only when everything that ran passed). A file that fails
    discovery, or a BeforeAll/AfterAll that throws, counts as failed: a broken run never passes.

    tests/run.sh runs it under pwsh on Linux; the parameters let the same suite run elsewhere
    (e.g. a Windows pwsh under Wine against the Windows DLL) and be told apart in the summary.
    Written for PowerShell 5.1 and 7 alike.

.PARAMETER Path
    Folder or *.Tests.ps1 files to run.

.PARAMETER Label
    The word before the colon on the summary line (tests/run.sh reads 'pester:').

.PARAMETER Library
    The native library the module loads (sets $env:MSCOMMERCE_TEST_LIBRARY for the suite).

.PARAMETER Binary
    The mscommerce CLI that runs the emulator (sets $env:MSCOMMERCE_TEST_BIN for the suite).

.PARAMETER TestResultPath
    Also write an NUnit XML report there.

.EXAMPLE
    pwsh -NoProfile -File tests/powershell/Invoke-PesterSuite.ps1 -Library target/debug/libmscommerce.so -Binary target/debug/mscommerce
#>
[CmdletBinding()]
param(
    [string[]] $Path = @((Join-Path $PSScriptRoot 'pester')),
    [string] $Label = 'pester',
    [string] $Library,
    [string] $Binary,
    [string] $TestResultPath
)

$ErrorActionPreference = 'Stop'
if ($null -ne (Get-Variable -Name PSStyle -ErrorAction SilentlyContinue)) {
    $PSStyle.OutputRendering = 'PlainText'
}

function Write-Summary([int] $Passed, [int] $Failed, [int] $Skipped) {
    # The last line of the output: tests/run.sh and CI read it.
    Write-Host ('{0}: {1} passed, {2} failed, {3} skipped' -f $Label, $Passed, $Failed, $Skipped)
}

function Get-BlockNames($Block) {
    # The names as run: data-driven blocks and tests have their <placeholders> filled in.
    $names = @()
    while ($Block -and -not $Block.IsRoot) {
        $names = @($Block.ExpandedName) + $names
        $Block = $Block.Parent
    }
    $names
}

function Get-TestName($Test) {
    (@(Get-BlockNames $Test.Block) + @($Test.ExpandedName)) -join ' > '
}

function Get-ErrorText($Records) {
    $messages = @($Records | Where-Object { $_ } | ForEach-Object { $_.Exception.Message })
    (($messages -join '; ') -replace '\s+', ' ').Trim()
}

function Get-BlockTests($Block) {
    @($Block.Tests) + @($Block.Blocks | ForEach-Object { Get-BlockTests $_ })
}

if ($Library) { $env:MSCOMMERCE_TEST_LIBRARY = (Resolve-Path -LiteralPath $Library).ProviderPath }
if ($Binary) { $env:MSCOMMERCE_TEST_BIN = (Resolve-Path -LiteralPath $Binary).ProviderPath }

$pester = Get-Module -ListAvailable -Name Pester | Where-Object { $_.Version.Major -ge 5 } |
    Sort-Object Version -Descending | Select-Object -First 1
if (-not $pester) {
    Write-Host "${Label}: Pester 5 is not installed for this PowerShell (Install-Module Pester -MinimumVersion 5.0)"
    Write-Summary 0 1 0
    exit 1
}
Import-Module $pester.Path -Force

$configuration = New-PesterConfiguration
$configuration.Run.Path = $Path
$configuration.Run.PassThru = $true
$configuration.Run.Exit = $false
$configuration.Output.Verbosity = 'Detailed'
$configuration.Output.RenderMode = 'Plaintext'
if ($TestResultPath) {
    $configuration.TestResult.Enabled = $true
    $configuration.TestResult.OutputFormat = 'NUnitXml'
    $configuration.TestResult.OutputPath = $TestResultPath
}

Write-Host "${Label}: Pester $($pester.Version) under PowerShell $($PSVersionTable.PSVersion) ($($PSVersionTable.PSEdition)) on $Path"
try {
    # The tests run with PowerShell's default error preference, not this script's 'Stop': they run
    # in this script's scope chain, and the module hears its caller's preferences (a non-terminating
    # error would become terminating).
    $result = & {
        $ErrorActionPreference = 'Continue'
        Invoke-Pester -Configuration $configuration
    }
} catch {
    Write-Host "${Label}: Invoke-Pester failed: $($_.Exception.Message)"
    Write-Summary 0 1 0
    exit 1
}
if ($null -eq $result) {
    Write-Host "${Label}: Invoke-Pester returned no result"
    Write-Summary 0 1 0
    exit 1
}

$tests = @($result.Tests)
$passed = @($tests | Where-Object { $_.Result -eq 'Passed' }).Count
$failedTests = @($tests | Where-Object { $_.Result -eq 'Failed' })
$failed = $failedTests.Count
$skippedLines = New-Object System.Collections.Generic.List[string]
$failedLines = New-Object System.Collections.Generic.List[string]

foreach ($test in $failedTests) {
    $why = Get-ErrorText $test.ErrorRecord
    if (-not $why) { $why = 'no error of its own: its block failed (below)' }
    $failedLines.Add("$(Get-TestName $test): $why")
}

# A BeforeAll that throws marks the block's tests failed (counted above); an AfterAll that throws
# leaves them passed: count such a block once.
foreach ($block in @($result.FailedBlocks)) {
    $why = Get-ErrorText $block.ErrorRecord
    $failedLines.Add("block $((Get-BlockNames $block) -join ' > '): $why")
    if (-not @(Get-BlockTests $block | Where-Object { $_ -and $_.Result -eq 'Failed' }).Count) {
        $failed++
    }
}
# A file that failed discovery ran none of its tests, one whose top-level BeforeAll threw failed
# them all (counted above): count the first kind once.
foreach ($container in @($result.FailedContainers)) {
    $failedLines.Add("file $($container.Item): $(Get-ErrorText $container.ErrorRecord)")
    if (-not @($container.Blocks | ForEach-Object { Get-BlockTests $_ } | Where-Object { $_ -and $_.Result -eq 'Failed' }).Count) {
        $failed++
    }
}

$skipped = 0
foreach ($test in $tests) {
    $why = $null
    switch ($test.Result) {
        'Passed' { break }
        'Failed' { break }
        'Skipped' {
            $why = Get-ErrorText $test.ErrorRecord
            if ($why) { $why = $why -replace '^is skipped, because ', '' }
            elseif ($test.Skip) { $why = "marked -Skip in the test file" }
            else { $why = 'skipped (its block was skipped)' }
        }
        'Inconclusive' { $why = "inconclusive: $(Get-ErrorText $test.ErrorRecord)" }
        'NotRun' { $why = 'not run' }
        default { $why = "result '$($test.Result)'" }
    }
    if ($null -ne $why) {
        $skipped++
        $skippedLines.Add("$(Get-TestName $test): $why")
    }
}

if ($result.Result -ne 'Passed' -and $failed -eq 0) {
    # Pester judged the run failed for a reason not counted above.
    $failed = 1
    $failedLines.Add("the run: Pester's result is '$($result.Result)'")
}

Write-Host ''
foreach ($line in $failedLines) { Write-Host "${Label} failed: $line" }
foreach ($line in $skippedLines) { Write-Host "${Label} skipped: $line" }
Write-Summary $passed $failed $skipped
exit $failed
