namespace LoKO.Server.Api;

/// <summary>
/// A request body declared larger than LoKO:MaxRequestBytes (Content-Length) is a 413 before anything else looks at the
/// request, and the connection closes (<see cref="ErrorMapping"/>). Refused later instead (a 401 or 404 answered before
/// the body is read), Kestrel drains the body after the answer, finds it too large and drops the connection without
/// saying so in the answer: a client that reuses the connection for its next request gets no answer at all.
/// </summary>
public static class OversizeBodies
{
    public static IApplicationBuilder UseOversizeBodyRefusal(this IApplicationBuilder app, long maxBytes) => app.Use((context, next) =>
        context.Request.ContentLength is { } length && length > maxBytes
            ? throw new BadHttpRequestException($"the request body is {length} bytes; the server takes at most {maxBytes}", StatusCodes.Status413PayloadTooLarge)
            : next(context));
}
