using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace LoKO.Server.Tests.Fixtures;

/// <summary>One REST request to a server child process, with its answer parsed when it is a JSON object.</summary>
public static class JsonRequests
{
    public static async Task<(HttpResponseMessage Response, JsonElement Body)> SendAsync(HttpClient http, HttpMethod method, string path, string? key, object? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (json is not null) request.Content = JsonContent.Create(json);
        var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var body = text.TrimStart().StartsWith('{') ? JsonDocument.Parse(text).RootElement.Clone() : default;
        return (response, body);
    }
}
