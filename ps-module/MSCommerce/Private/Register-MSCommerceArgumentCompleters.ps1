# Tab completion for -PolicyId, -Value, -Enabled and -OtherProducts (fixed lists) and -ProductId
# (the product ids and names of the last listing in this session).

# Parameter name -> the values its completer offers.
$script:MSCommerceCompletionValues = @{
    PolicyId      = @('AllowSelfServicePurchase')
    Value         = @('Enabled', 'Disabled', 'OnlyTrialsWithoutPaymentMethod')
    Enabled       = @('$true', '$false')
    OtherProducts = @('Keep', 'Disabled', 'Enabled', 'OnlyTrialsWithoutPaymentMethod')
}

function Register-MSCommerceArgumentCompleters {
    # A plain function: the import runs it (Private/Import.ps1 says why).

    # One completer for all: -ProductId offers the last listing, the others a fixed list.
    $completer = {
        param(
            $commandName,
            $parameterName,
            $wordToComplete,
            $commandAst,
            $fakeBoundParameters
        )
        $word = ([string]$wordToComplete).Trim("'", '"')
        if ($parameterName -eq 'ProductId') {
            foreach ($id in @($script:MSCommerceProductCache.Keys | Sort-Object)) {
                $name = [string]$script:MSCommerceProductCache[$id]
                if ($id -like "$word*" -or ($word.Length -gt 0 -and $name -like "*$word*")) {
                    $tooltip = if ([string]::IsNullOrEmpty($name)) { $id } else { "$id ($name)" }
                    New-Object -TypeName System.Management.Automation.CompletionResult -ArgumentList $id, $tooltip, 'ParameterValue', $tooltip
                }
            }
            return
        }
        foreach ($value in @($script:MSCommerceCompletionValues[$parameterName])) {
            if ($value -like "$word*") {
                New-Object -TypeName System.Management.Automation.CompletionResult -ArgumentList $value, $value, 'ParameterValue', $value
            }
        }
    }

    $policyCommands = @(
        'Export-MSCommerceBaseline',
        'Get-MSCommercePolicy',
        'Get-MSCommerceProductPolicies',
        'Get-MSCommerceProductPolicy',
        'Update-MSCommerceProductPolicy'
    )
    Register-ArgumentCompleter -CommandName $policyCommands -ParameterName 'PolicyId' -ScriptBlock $completer
    Register-ArgumentCompleter -CommandName 'Update-MSCommerceProductPolicy' -ParameterName 'Value' -ScriptBlock $completer
    Register-ArgumentCompleter -CommandName 'Update-MSCommerceProductPolicy' -ParameterName 'Enabled' -ScriptBlock $completer
    Register-ArgumentCompleter -CommandName 'Export-MSCommerceBaseline' -ParameterName 'OtherProducts' -ScriptBlock $completer
    Register-ArgumentCompleter -CommandName @('Get-MSCommerceProductPolicy', 'Update-MSCommerceProductPolicy') -ParameterName 'ProductId' -ScriptBlock $completer
}
