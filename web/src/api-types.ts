/**
 * Types of the kiban serving API, generated from its OpenAPI document (/openapi.json) by
 * openapi-typescript. Do not edit: run `npm run gen:api-types` after changing a route schema.
 */

export interface paths {
    "/v1/audit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The audit log of writes to the API
         * @description Every POST, PUT, PATCH and DELETE that reached a route, newest first: who (the principal, or null when anonymous), what (the route and its path parameters), when, from where and the status answered. Pass nextCursor as cursor for the next page.
         */
        get: {
            parameters: {
                query?: {
                    /** @description only entries at or after this time */
                    from?: string;
                    /** @description only entries before this time */
                    to?: string;
                    /** @description only entries of this principal id */
                    principal?: string;
                    /** @description most entries listed */
                    limit?: number;
                    /** @description a previous page's nextCursor */
                    cursor?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            entries: {
                                /** @description the entry id; ids grow in the order entries were recorded */
                                id: string;
                                /** @description when the request arrived (ISO 8601) */
                                at: string;
                                /** @description the caller; null when anonymous */
                                principalId: string | null;
                                principalName: string | null;
                                /** @description how the caller authenticated: api-key, jwt, session, proxy, dev or none */
                                method: string;
                                /** @description HTTP method and route, e.g. POST /v1/experiments/:name/start */
                                action: string;
                                /** @description the route's path parameters */
                                target: {
                                    [key: string]: string;
                                };
                                /** @description the HTTP status answered */
                                status: number;
                                /** @description the peer address */
                                ip: string;
                                requestId: string;
                            }[];
                            nextCursor: string | null;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users/{userId}/recommendations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Recommended items for a user
         * @description The user's items, best first, through the service's fallback chain (by default personal → related-to-recent → category-popular → popular): each source fills what the ones before left of the page, and each item names its `source`. Left out: retired items, the items the user hid or has just sent events for, `exclude`d ids, and with `category` every item outside it. `offset` pages through one stable sequence (page 1 + page 2 = the first 2k, no duplicates). `fallback` is true when the user has no list of their own. With `explain=true` each item carries the user's items that contributed most.
         */
        get: {
            parameters: {
                query?: {
                    /** @description list length */
                    k?: number;
                    /** @description items to skip (pagination) */
                    offset?: number;
                    /** @description only items of this category */
                    category?: string;
                    /** @description item ids to leave out, comma-separated or repeated (at most 1000) */
                    exclude?: string | string[];
                    /** @description true: each item carries the reasons it is recommended */
                    explain?: "true" | "false";
                };
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            user: string;
                            items: {
                                /** @description the external item id */
                                id: string;
                                score: number;
                                /**
                                 * @description which source of the fallback chain gave the item
                                 * @enum {string}
                                 */
                                source: "personal" | "related-to-recent" | "category-popular" | "popular";
                                /** @description only with explain=true */
                                explain?: {
                                    /** @description the user's (or session's) items that contributed most, strongest first */
                                    reasons: {
                                        item: string;
                                        score: number;
                                    }[];
                                };
                            }[];
                            fallback: boolean;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/recommendations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Recommended items for a session
         * @description Items for an anonymous session from its recent items (no user id): the recent items' related lists merged, scores summed, the session's own items left out, then the fallback chain's category-popular and popular sources. Same filters, paging and explanations as a user's recommendations.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description the session's recent items, newest first */
                        items: string[];
                        /**
                         * @description list length
                         * @default 10
                         */
                        k?: number;
                        /**
                         * @description items to skip
                         * @default 0
                         */
                        offset?: number;
                        /** @description only items of this category */
                        category?: string;
                        /** @description item ids to leave out */
                        exclude?: string[];
                        /**
                         * @description each item carries the session items behind it
                         * @default false
                         */
                        explain?: boolean;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                /** @description the external item id */
                                id: string;
                                score: number;
                                /**
                                 * @description which source of the fallback chain gave the item
                                 * @enum {string}
                                 */
                                source: "personal" | "related-to-recent" | "category-popular" | "popular";
                                /** @description only with explain=true */
                                explain?: {
                                    /** @description the user's (or session's) items that contributed most, strongest first */
                                    reasons: {
                                        item: string;
                                        score: number;
                                    }[];
                                };
                            }[];
                            fallback: boolean;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/items/{itemId}/related": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Items related to an item
         * @description Precomputed top-k most similar items, best first, retired and `exclude`d items left out. An item the model does not know is a 404.
         */
        get: {
            parameters: {
                query?: {
                    /** @description list length */
                    k?: number;
                    /** @description item ids to leave out, comma-separated or repeated (at most 1000) */
                    exclude?: string | string[];
                };
                header?: never;
                path: {
                    itemId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            item: string;
                            items: {
                                /** @description the external item id */
                                id: string;
                                score: number;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users/{userId}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Record a user's events
         * @description Events of one user (view, click, like, purchase, follow), each on an item, with a time (ISO-8601 or epoch ms; default now). They are stored with the interactions for the next batch (weight by type unless given: view 1, click 1, like 2, purchase 3, follow 1) and the items are left out of the user's recommendations at once. An event with an `id` stored before is skipped.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        events: {
                            /** @description the external item id */
                            item: string;
                            /** @enum {string} */
                            type: "view" | "click" | "like" | "purchase" | "follow";
                            /** @description when it happened: ISO-8601 or epoch ms; default now */
                            ts?: string | number;
                            /** @description default by type */
                            weight?: number;
                            /** @description idempotency key: an id stored before is skipped */
                            id?: string;
                        }[];
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description events stored with the interactions (0 without a store) */
                            accepted: number;
                            duplicates: number;
                            /** @description items left out of recommendations from now on */
                            seen: number;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users/{userId}/creators": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Recommended creators for a user
         * @description Precomputed top-k creators for the user, best first: the user's recommended items aggregated per creator, blended with direct creator interactions, never a creator the user already interacted with. A user without a list gets the most popular creators with "fallback": true. 404 when the published version has no creator lists (no creator column in the item catalogue).
         */
        get: {
            parameters: {
                query?: {
                    /** @description list length */
                    k?: number;
                };
                header?: never;
                path: {
                    userId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            user: string;
                            creators: {
                                /** @description the creator, as the item catalogue names it */
                                id: string;
                                score: number;
                            }[];
                            fallback: boolean;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/creators/{creatorId}/related": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Creators related to a creator
         * @description Precomputed top-k most related creators, best first: the creator's items' related items aggregated per creator, blended with creator co-occurrence over users. A creator the published version does not know is a 404.
         */
        get: {
            parameters: {
                query?: {
                    /** @description list length */
                    k?: number;
                };
                header?: never;
                path: {
                    creatorId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            creator: string;
                            creators: {
                                /** @description the creator, as the item catalogue names it */
                                id: string;
                                score: number;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/interactions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Record user–item interactions
         * @description Up to 1000 user–item events (a click, a view, a purchase), stored in one transaction. An event with an `id` stored before is skipped, so a retried request is counted once. A user's events written after the published batch change their recommendations at once when the published model embeds users (graphsage, gat), and are kept for the next batch. `ts` is ISO-8601 or epoch milliseconds (default now), `weight` a finite number (default 1).
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        events: {
                            /** @description the external user id */
                            user: string;
                            /** @description the external item id */
                            item: string;
                            /** @description when it happened: ISO-8601 or epoch ms; default now */
                            ts?: string | number;
                            /** @description default 1 */
                            weight?: number;
                            /** @description idempotency key: an id stored before is skipped */
                            id?: string;
                        }[];
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            accepted: number;
                            duplicates: number;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/models": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The published model
         * @description The serving version readers see now, with the model record (kind, parameters, offline metrics) behind it.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            version: string;
                            publishedAt: string;
                            meta: {
                                [key: string]: unknown;
                            };
                            model: {
                                [key: string]: unknown;
                            } | null;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/models/versions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The published versions held
         * @description The committed versions the serving store keeps (the current one and the last few before it), newest published first, each with its meta (model id, kind, offline metrics…) and whether readers see it now. Any of them can be rolled back to.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            versions: {
                                version: string;
                                publishedAt: string;
                                meta: {
                                    [key: string]: unknown;
                                };
                                current: boolean;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/models/rollback": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Roll back to a held version
         * @description Makes a version the serving store still holds (see GET /models/versions) current again, in one atomic switch: every request after the answer reads it. Rolling forward again is the same call with the newer version. An unknown, aborted or collected version is a 404.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description the version to make current, as GET /models/versions names it */
                        version: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description the version current before (null if none was) */
                            from: string | null;
                            /** @description the version current now */
                            to: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/services": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The services this server serves
         * @description Every service with its route prefix and the version of its serving namespace readers see now (null before its first publish). Only the services the caller may use are listed.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            services: {
                                name: string;
                                prefix: string;
                                version: string | null;
                                publishedAt: string | null;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/me": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The authenticated caller and its scopes */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {string} */
                            kind: "service" | "developer";
                            id: string;
                            name: string;
                            /** @description api-key, jwt, session, proxy or dev */
                            method: string;
                            scopes: string[];
                            /** @description the cookie whose value a session-authenticated write echoes in X-CSRF-Token */
                            csrfCookie: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/tags/suggest": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Suggested tags for a text
         * @description The published tagger's best tags for the text, best first: at most k, none scoring under threshold. Scores are softmax probabilities (or per-tag sigmoids for a one-vs-all model). The answering model id is in the x-kiban-model header.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description the text to tag */
                        text: string;
                        /**
                         * @description most tags to return
                         * @default 5
                         */
                        k?: number;
                        /**
                         * @description least score of a returned tag
                         * @default 0
                         */
                        threshold?: number;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            tag: string;
                            score: number;
                        }[];
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/workflows": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Workflows
         * @description Every valid workflow file with its schedule, next run and last run; invalid files with their problems.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/workflows/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A workflow
         * @description The definition, the next scheduled run and the latest runs, newest first.
         */
        get: {
            parameters: {
                query?: {
                    /** @description most runs listed */
                    limit?: number;
                };
                header?: never;
                path: {
                    /** @description workflow name */
                    name: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/workflows/{name}/runs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A workflow's runs
         * @description The latest runs of the workflow, newest first, without their definitions.
         */
        get: {
            parameters: {
                query?: {
                    /** @description most runs listed */
                    limit?: number;
                };
                header?: never;
                path: {
                    /** @description workflow name */
                    name: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        put?: never;
        /**
         * Start a run
         * @description Starts a run of the workflow (202 with its id), for a logical date (default today) with parameters overriding the workflow's. Parameters may not name stores or modules, and files they name must lie in the data root.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description workflow name */
                    name: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        logicalDate?: string;
                        params?: {
                            [key: string]: string | number | boolean;
                        };
                    } | null;
                };
            };
            responses: {
                /** @description Default Response */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            runId: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/runs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Runs
         * @description The latest runs of every workflow (or one), newest first, optionally by status.
         */
        get: {
            parameters: {
                query?: {
                    status?: "running" | "succeeded" | "failed";
                    workflow?: string;
                    /** @description most runs listed */
                    limit?: number;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/runs/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A run
         * @description The run with its definition, its tasks (in definition order) and every attempt.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description run id */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/runs/{id}/tasks/{task}/logs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A task's log
         * @description Log lines of the task (one attempt, or all), after `afterSeq`: pass the answer's `lastSeq` next time to follow the log.
         */
        get: {
            parameters: {
                query?: {
                    attempt?: number;
                    afterSeq?: number;
                    /** @description most lines returned */
                    limit?: number;
                };
                header?: never;
                path: {
                    id: string;
                    task: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/runs/{id}/retry": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Retry a failed run
         * @description Runs the failed and upstream-failed tasks of a failed run again (202).
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description run id */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            runId: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/runs/{id}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A run's events
         * @description Server-Sent Events: `run` with the run detail (as `GET /v1/runs/{id}`) whenever it changes, `end` when the run has finished, `gone` when it was deleted.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description run id */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/items/{id}/similar": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Items nearest to an item by vector
         * @description The k items whose vectors are nearest to the item's own stored vector in a vector index, the item itself and `exclude` left out, closest first; with `filter`, only items whose attributes match (an attribute the index does not have is a 400). Scores are similarities (cosine, inner product: higher is closer) or squared distances (l2: lower is closer). An item without a vector is a 404; an index not built yet, a 503.
         */
        get: {
            parameters: {
                query?: {
                    /** @description neighbours */
                    k?: number;
                    /** @description vector index name */
                    index?: string;
                    /** @description comma-separated item ids to leave out */
                    exclude?: string;
                    /** @description attribute equality: comma-separated attr:value pairs, all must hold (an attribute named twice accepts either value), e.g. category:stickers,lang:ja */
                    filter?: string;
                };
                header?: never;
                path: {
                    /** @description the external item id */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            item: string;
                            index: string;
                            version: string;
                            items: {
                                id: string;
                                score: number;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vectors/{index}/search": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Nearest items to vectors
         * @description Searches a vector index with one `vector` or a batch of `vectors` (each of the index's dimension) and answers, per query, the k nearest items closest first, `exclude` left out and, with `filter`, only items whose attributes match. Scores as for /v1/items/{id}/similar.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description vector index name */
                    index: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        vector?: number[];
                        vectors?: number[][];
                        /** @default 10 */
                        k?: number;
                        exclude?: string[];
                        /** @description attribute equality: each attribute must hold, a value or any of an array of values, e.g. {"category": ["stickers", "fonts"]} */
                        filter?: {
                            [key: string]: string | string[];
                        };
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            index: string;
                            version: string;
                            results: {
                                id: string;
                                score: number;
                            }[][];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vectors/{index}/items/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /**
         * Set an item's vector
         * @description Stores the item's vector (of the index's dimension) and, optionally, its attributes as an incremental change, kept across restarts, applied on top of the versions loaded later and folded into the next build, and makes it searchable at once.
         */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description vector index name */
                    index: string;
                    /** @description the external item id */
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        vector: number[];
                        /** @description the item's filterable attributes from now on (the whole set, at most 32); omitted: keep those it has */
                        attributes?: {
                            [key: string]: string;
                        };
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            index: string;
                            id: string;
                            version: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        post?: never;
        /**
         * Delete an item's vector
         * @description Removes the item from the index at once and records the deletion, kept across restarts and applied to every version loaded later. `deleted` says whether the item was there.
         */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description vector index name */
                    index: string;
                    /** @description the external item id */
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            index: string;
                            id: string;
                            version: string;
                            deleted: boolean;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/bandits/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A bandit and its statistics
         * @description The definition and the shared statistics (feedback count, reward sum and mean per arm) as the store holds them now.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description bandit name */
                    name: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            name: string;
                            /**
                             * @description egreedy, ucb1, bts (Bernoulli Thompson sampling), linucb or lints (linear Thompson sampling)
                             * @enum {string}
                             */
                            policy: "egreedy" | "ucb1" | "bts" | "linucb" | "lints";
                            /** @description context length (required for linucb and lints) */
                            dim: number;
                            /** @description policy parameters; defaults applied */
                            params: {
                                [key: string]: number;
                            };
                            /** @description feature service of the feature store whose numeric and bool features (as many as dim, in its order) are the context of decisions that name only an entity */
                            featureService?: string;
                            createdAt: string;
                            version: number;
                            arms: {
                                arm: string;
                                n: number;
                                rewardSum: number;
                                mean: number;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        /**
         * Create a bandit
         * @description Creates the bandit, or confirms it (200) when it exists with the same policy, dim and parameters; another definition is a 409.
         */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description bandit name */
                    name: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /**
                         * @description egreedy, ucb1, bts (Bernoulli Thompson sampling), linucb or lints (linear Thompson sampling)
                         * @enum {string}
                         */
                        policy: "egreedy" | "ucb1" | "bts" | "linucb" | "lints";
                        /** @description context length (required for linucb and lints) */
                        dim?: number;
                        /** @description policy parameters; defaults applied */
                        params?: {
                            [key: string]: number;
                        };
                        /** @description feature service of the feature store whose numeric and bool features (as many as dim, in its order) are the context of decisions that name only an entity */
                        featureService?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            name: string;
                            created: boolean;
                            definition: {
                                /**
                                 * @description egreedy, ucb1, bts (Bernoulli Thompson sampling), linucb or lints (linear Thompson sampling)
                                 * @enum {string}
                                 */
                                policy: "egreedy" | "ucb1" | "bts" | "linucb" | "lints";
                                /** @description context length (required for linucb and lints) */
                                dim: number;
                                /** @description policy parameters; defaults applied */
                                params: {
                                    [key: string]: number;
                                };
                                /** @description feature service of the feature store whose numeric and bool features (as many as dim, in its order) are the context of decisions that name only an entity */
                                featureService?: string;
                                createdAt: string;
                            };
                        };
                    };
                };
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            name: string;
                            created: boolean;
                            definition: {
                                /**
                                 * @description egreedy, ucb1, bts (Bernoulli Thompson sampling), linucb or lints (linear Thompson sampling)
                                 * @enum {string}
                                 */
                                policy: "egreedy" | "ucb1" | "bts" | "linucb" | "lints";
                                /** @description context length (required for linucb and lints) */
                                dim: number;
                                /** @description policy parameters; defaults applied */
                                params: {
                                    [key: string]: number;
                                };
                                /** @description feature service of the feature store whose numeric and bool features (as many as dim, in its order) are the context of decisions that name only an entity */
                                featureService?: string;
                                createdAt: string;
                            };
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        post?: never;
        /**
         * Delete a bandit
         * @description Deletes the bandit and its statistics; its pending decisions can no longer take feedback.
         */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description bandit name */
                    name: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/bandits": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Bandits
         * @description Names of every bandit, sorted.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            bandits: string[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/bandits/{name}/report": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Arm shares and reward rate over time
         * @description From the decision logs of every server process: per time bucket (at most 48), how often each arm was chosen and its share, and the reward rate with a 95% Wilson interval (rewards clamped to [0, 1]); per-arm totals.
         */
        get: {
            parameters: {
                query?: {
                    /** @description ISO-8601 time: decisions from it (inclusive) */
                    from?: string;
                    /** @description ISO-8601 time: decisions before it */
                    to?: string;
                };
                header?: never;
                path: {
                    /** @description bandit name */
                    name: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            bandit: string;
                            from: string | null;
                            to: string | null;
                            bucketMs: number;
                            decisions: number;
                            impressions: number;
                            arms: string[];
                            buckets: {
                                start: string;
                                decisions: number;
                                impressions: number;
                                chosen: number[];
                                shares: number[];
                                reward: {
                                    n: number;
                                    rewardSum: number;
                                    rate: number | null;
                                    low: number | null;
                                    high: number | null;
                                };
                            }[];
                            totals: {
                                arm: string;
                                chosen: number;
                                share: number;
                                n: number;
                                rewardSum: number;
                                rate: number | null;
                                low: number | null;
                                high: number | null;
                            }[];
                            overall: {
                                n: number;
                                rewardSum: number;
                                rate: number | null;
                                low: number | null;
                                high: number | null;
                            };
                            clampedRewards: number;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/bandits/{name}/decide": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Choose arms
         * @description Chooses `slots` distinct arms among the candidates (slot 0 first) with the bandit's policy. Each propensity is the probability that its arm was put at its slot given the earlier slots. The decision is logged and its id takes the feedback.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description bandit name */
                    name: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description the bandit's dim numbers, or a feature service and an entity whose online features are the context (missing or expired ones read as 0); may be left out when dim is 0 */
                        context?: number[] | {
                            /** @description feature service to read the context from (default: the bandit's) */
                            featureService?: string;
                            /** @description the join keys of the entity, e.g. {"user_id": "42"}; at most 16 */
                            entity: {
                                [key: string]: string | number;
                            };
                        };
                        candidates: string[];
                        /**
                         * @description arms to choose (positions to fill)
                         * @default 1
                         */
                        slots?: number;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            decisionId: string;
                            arms: string[];
                            propensities: number[];
                            /** @description statistics version of the policy that decided */
                            version: number;
                            /** @description with a context read from a feature service */
                            featureContext?: {
                                featureService: string;
                                /** @description features the entity has no value of, read as 0 */
                                missing: number;
                                /** @description features older than their TTL, read as 0 */
                                expired: number;
                            };
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/bandits/{name}/feedback": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Report rewards of a decision
         * @description The rewards of a decision's arms: an array in slot order, or an object arm → reward (arms left out earned 0). Applied once: a repeat is a 409 and is not counted; an unknown or expired decision is a 404. Answers when the rewards are in the shared statistics.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description bandit name */
                    name: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        decisionId: string;
                        rewards: number[] | {
                            [key: string]: number;
                        };
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            decisionId: string;
                            arms: string[];
                            rewards: number[];
                            /** @description statistics version that includes this feedback */
                            version: number;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/features/online": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Online feature values for entities
         * @description The latest values of `features` (`view:feature`, in answer order) or of a `featureService`'s features for each of `entities` (up to 1000, each holding the join keys of every view read, e.g. `{"user_id": "1"}`; at most 250000 values in all), in request order. Columnar: `features` once, then per entity `values` and `statuses` in the order of `features`, and `eventTimes`: by view, the event time (epoch ms) of the entity's row of that view, null when it has none. A status is `present`, `missing` (no row, or a row written before the view had the feature; value null) or `expired` (older than the view's TTL: `now − eventTime ≥ ttl`; value null). With `Accept: application/x-msgpack` the same object is answered as msgpack. An unknown view, feature or service, or an entity without a join key or with a key of the wrong type, is a 400 naming it.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description view:feature references; exactly one of features and featureService */
                        features?: string[];
                        /** @description a feature service of the repository */
                        featureService?: string;
                        /** @description join key column → key value, e.g. {"user_id": "1"} */
                        entities: {
                            [key: string]: string | number;
                        }[];
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            features: string[];
                            results: {
                                values: (number | string | boolean | null)[];
                                statuses: ("present" | "missing" | "expired")[];
                                eventTimes: {
                                    [key: string]: number | null;
                                };
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/features/push": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Push feature rows
         * @description Rows of one feature view (up to 10000), each with the view's join keys, its source's event-time column (ISO-8601, or epoch seconds as a number), optionally its created-time column, and every feature of the view (null allowed; a row replaces the entity's whole row). Types are checked against the view (int64: an integer or its decimal digits; float: a number; bool; string; timestamp: ISO-8601 or epoch seconds). The rows are appended to the repository's push log (read by later point-in-time joins) and written to the online store, where a row replaces the stored one only if newer (event time, then created time: the created time is the column's when given, else when the push was received). `stored` counts rows that did.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description the feature view */
                        view: string;
                        rows: {
                            [key: string]: number | string | boolean | null;
                        }[];
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            view: string;
                            rows: number;
                            stored: number;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/features/views": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Feature views of the served repository
         * @description Every feature view with its entities and join keys, features, TTL, owner, description, tags, source, the feature services that read it, its registry version (when the server has the metadata store's registry) and its freshness from the online store's materialisation mark.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description the time ages are measured from */
                            now: string;
                            /** @description whether registry versions were looked up */
                            registry: boolean;
                            entities: {
                                name: string;
                                joinKey: string;
                                /** @enum {string} */
                                type: "string" | "int64";
                                description: string | null;
                            }[];
                            views: {
                                name: string;
                                description: string | null;
                                owner: string | null;
                                tags: {
                                    [key: string]: string;
                                };
                                /** @description the view's entities, in key order */
                                entities: {
                                    name: string;
                                    joinKey: string;
                                    /** @enum {string} */
                                    type: "string" | "int64";
                                    description: string | null;
                                }[];
                                features: {
                                    name: string;
                                    type: string;
                                    description: string | null;
                                }[];
                                /** @description how long a value stays valid after its event time; 0 = for ever */
                                ttlSeconds: number;
                                source: {
                                    name: string;
                                    /** @enum {string} */
                                    kind: "file" | "query";
                                    /** @description a file source's path relative to the repository; null for a query */
                                    path: string | null;
                                    /** @description the event-time column */
                                    timestamp: string;
                                    createdTimestamp: string | null;
                                };
                                /** @description the feature services that read the view */
                                services: string[];
                                /** @description the registry version; null when never applied or the registry is not connected */
                                registry: {
                                    version: number;
                                    /** @description ISO-8601 time */
                                    appliedAt: string;
                                    /** @description whether the recorded version is the definition served (false: apply pending) */
                                    current: boolean;
                                } | null;
                                /** @description from the online store's materialisation mark; null when never materialised */
                                freshness: {
                                    /** @description the newest event time materialised to the online store; null when no row was */
                                    newestEventTime: string | null;
                                    /** @description now − newestEventTime in seconds; null when no row was materialised */
                                    ageSeconds: number | null;
                                    /** @description whether the newest value is older than the TTL (now − newest ≥ ttl; never with ttl 0) */
                                    stale: boolean;
                                    /** @description the first materialised window start */
                                    materializedFrom: string;
                                    /** @description every window before this instant has been materialised */
                                    materializedUntil: string;
                                    /** @description when the materialisation mark was last set */
                                    markedAt: string;
                                } | null;
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/features/views/{view}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * One feature view and a sample of its online values
         * @description The view as `GET /v1/features/views` lists it, the feature services that read it, and the online values of up to `limit` entities with a status per value as `POST /v1/features/online` gives them (present / missing / expired). The entities are those named by `keys` (comma-separated; the values of a view with several entities joined by `|` in its entity order), else the first the online store finds holding a row of the view (`keysFrom`). An unknown view is a 404.
         */
        get: {
            parameters: {
                query?: {
                    /** @description most entities in the sample */
                    limit?: number;
                    /** @description entity keys to show, comma-separated (composite keys joined by |) */
                    keys?: string;
                };
                header?: never;
                path: {
                    view: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description ISO-8601 time */
                            now: string;
                            view: {
                                name: string;
                                description: string | null;
                                owner: string | null;
                                tags: {
                                    [key: string]: string;
                                };
                                /** @description the view's entities, in key order */
                                entities: {
                                    name: string;
                                    joinKey: string;
                                    /** @enum {string} */
                                    type: "string" | "int64";
                                    description: string | null;
                                }[];
                                features: {
                                    name: string;
                                    type: string;
                                    description: string | null;
                                }[];
                                /** @description how long a value stays valid after its event time; 0 = for ever */
                                ttlSeconds: number;
                                source: {
                                    name: string;
                                    /** @enum {string} */
                                    kind: "file" | "query";
                                    /** @description a file source's path relative to the repository; null for a query */
                                    path: string | null;
                                    /** @description the event-time column */
                                    timestamp: string;
                                    createdTimestamp: string | null;
                                };
                                /** @description the feature services that read the view */
                                services: string[];
                                /** @description the registry version; null when never applied or the registry is not connected */
                                registry: {
                                    version: number;
                                    /** @description ISO-8601 time */
                                    appliedAt: string;
                                    /** @description whether the recorded version is the definition served (false: apply pending) */
                                    current: boolean;
                                } | null;
                                /** @description from the online store's materialisation mark; null when never materialised */
                                freshness: {
                                    /** @description the newest event time materialised to the online store; null when no row was */
                                    newestEventTime: string | null;
                                    /** @description now − newestEventTime in seconds; null when no row was materialised */
                                    ageSeconds: number | null;
                                    /** @description whether the newest value is older than the TTL (now − newest ≥ ttl; never with ttl 0) */
                                    stale: boolean;
                                    /** @description the first materialised window start */
                                    materializedFrom: string;
                                    /** @description every window before this instant has been materialised */
                                    materializedUntil: string;
                                    /** @description when the materialisation mark was last set */
                                    markedAt: string;
                                } | null;
                            };
                            services: {
                                name: string;
                                owner: string | null;
                                description: string | null;
                                /** @description view:feature, in the service order */
                                features: string[];
                                /** @description the views read, in first-use order */
                                views: string[];
                            }[];
                            sample: {
                                /**
                                 * @description where the entities came from; none: the store cannot list keys
                                 * @enum {string}
                                 */
                                keysFrom: "request" | "store" | "none";
                                /** @description the view's features, in the order of values */
                                features: string[];
                                rows: {
                                    /** @description join key column → key */
                                    entity: {
                                        [key: string]: string;
                                    };
                                    values: (number | string | boolean | null)[];
                                    statuses: ("present" | "missing" | "expired")[];
                                    eventTimes: (string | null)[];
                                }[];
                            };
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/features/services": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Feature services of the served repository
         * @description Every feature service: its features (view:feature), the views it reads, owner and description.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            services: {
                                name: string;
                                owner: string | null;
                                description: string | null;
                                /** @description view:feature, in the service order */
                                features: string[];
                                /** @description the views read, in first-use order */
                                views: string[];
                            }[];
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/experiments": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Experiments
         * @description Every experiment, or those with the given status (draft, running or stopped).
         */
        get: {
            parameters: {
                query?: {
                    /** @description draft, running or stopped */
                    status?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/experiments/assignments": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A unit's variants
         * @description Every running experiment the unit is in, with its variant: `unit` names the unit; every other query parameter is an attribute for targeting (`?unit=u42&country=JP&age=31`). The same answer as `assignUnit` from the definitions of `GET /v1/experiments?status=running`.
         */
        get: {
            parameters: {
                query: {
                    unit: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            unit: string;
                            assignments: {
                                experiment: string;
                                variant: string;
                                layer: string;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/experiments/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * An experiment
         * @description The definition and status of the experiment.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description experiment name */
                    name: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        /**
         * Define an experiment
         * @description Creates the experiment (201) or changes it (200): variants with weights, control, traffic, layer, targeting rules. Changing the split of a running experiment needs `?force=true`. The definition is checked field by field; a bad one is a 400 naming the field.
         */
        put: {
            parameters: {
                query?: {
                    /** @description "true" to change the split of a running experiment */
                    force?: string;
                };
                header?: never;
                path: {
                    /** @description experiment name */
                    name: string;
                };
                cookie?: never;
            };
            /** @description the experiment definition (see experiments/experiment.ts) */
            requestBody: {
                content: {
                    "application/json": unknown;
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/experiments/{name}/start": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Start an experiment
         * @description Starts assigning units, now or at `at` (ISO-8601).
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description experiment name */
                    name: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": ({
                        /** @description ISO-8601 time; default now */
                        at?: unknown;
                    } & {
                        [key: string]: unknown;
                    }) | null;
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/experiments/{name}/stop": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Stop an experiment
         * @description Stops assigning units; its events and results stay.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /** @description experiment name */
                    name: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Ingest experiment events
         * @description A batch of up to 1000 exposure, conversion and value events, stored in one transaction (all or none); an event id stored before is skipped, so a retried batch is counted once. An event of an experiment that is not defined is a 404, an exposure to a variant the experiment does not have a 400, naming the event; the batch is then not stored.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        events: ({
                            eventId: string;
                            /** @enum {string} */
                            type: "exposure" | "conversion" | "value";
                            experiment: string;
                            unit: string;
                            /** @description exposures */
                            variant?: string;
                            /** @description conversions and values */
                            metric?: string;
                            /** @description value events */
                            value?: number;
                            /** @description ISO-8601 or epoch ms; default now */
                            time?: string | number;
                        } & {
                            [key: string]: unknown;
                        })[];
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            accepted: number;
                            duplicates: number;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            code: string;
                            message: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/experiments/{name}/results": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Analysis of an experiment
         * @description Per variant: units, conversion rate or mean; per comparison with the control: the difference and relative lift with confidence intervals, the p-value, CUPED and sequential (always-valid) inference, the probability to beat the control; the sample ratio check and a timeline.
         */
        get: {
            parameters: {
                query?: {
                    /** @description the metric analysed; default the first one */
                    metric?: string;
                    /** @description two-sided, greater or less */
                    alternative?: string;
                    /** @description confidence level, e.g. 0.95 */
                    confidence?: string;
                    /** @description true or false; default true */
                    cuped?: string;
                    /** @description timeline bucket: day or hour; default day */
                    bucket?: string;
                    /** @description mixing variance of the sequential test */
                    tau?: string;
                    /** @description VIEW:FEATURE: CUPED with this feature store feature, each unit's value just before its first exposure, instead of the metric's pre-exposure events */
                    covariateFeature?: string;
                };
                header?: never;
                path: {
                    /** @description experiment name */
                    name: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: never;
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export type operations = Record<string, never>;
